"""The two OAuth providers built from settings, and what a fresh grant says about its account.

FreshBooks: authorize on the auth host, tokens on the API host (``/auth/oauth/token``), single-use
refresh tokens, ``redirect_uri`` sent on refresh as the SDK does; the account and business ids
come from ``/auth/api/v1/users/me``. Salesforce: ``/services/oauth2/*`` on the login host, PKCE,
the org id and user id read from the token's identity URL ``…/id/<org>/<user>``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import httpx

from freshforce.connectors.core import (
    ApiClient,
    CallCounter,
    CallRetryPolicy,
    HttpSettings,
    build_http_client,
)
from freshforce.connectors.freshbooks.client import FreshBooksClient
from freshforce.connectors.freshbooks.errors import map_freshbooks_error
from freshforce.connectors.oauth import OAuthProvider, TokenGrant
from freshforce.errors import ConfigError, PermanentError
from freshforce.store.connections import NewConnection

if TYPE_CHECKING:
    from freshforce.settings import Settings

__all__ = ["System", "connection_from_grant", "provider_for"]

System = Literal["freshbooks", "salesforce"]


def provider_for(system: System, settings: Settings) -> OAuthProvider:
    """Build ``system``'s provider; raise ``ConfigError`` naming a missing client setting."""
    client_id = getattr(settings, f"{system}_client_id")
    secret = getattr(settings, f"{system}_client_secret")
    missing = [
        name
        for name, value in (("client_id", client_id), ("client_secret", secret.get_secret_value()))
        if not value
    ]
    if missing:
        names = " and ".join(f"{system}_{m}" for m in missing)
        msg = f"set {names} (settings file or FRESHFORCE_{names.split()[0].upper()}) to connect"
        raise ConfigError(msg)
    http = HttpSettings(read_timeout=min(settings.http_timeout_seconds, 30.0))
    if system == "freshbooks":
        return OAuthProvider(
            system="freshbooks",
            authorize_url=f"{settings.freshbooks_auth_url}/oauth/authorize",
            token_url=f"{settings.freshbooks_api_url}/auth/oauth/token",
            client_id=client_id,
            client_secret=secret,
            redirect_uri=settings.freshbooks_redirect_uri,
            refresh_sends_redirect_uri=True,
            http=http,
        )
    return OAuthProvider(
        system="salesforce",
        authorize_url=f"{settings.salesforce_login_url}/services/oauth2/authorize",
        token_url=f"{settings.salesforce_login_url}/services/oauth2/token",
        client_id=client_id,
        client_secret=secret,
        redirect_uri=settings.salesforce_redirect_uri,
        scopes=("api", "refresh_token"),
        pkce=True,
        http=http,
    )


async def connection_from_grant(
    system: System,
    name: str,
    grant: TokenGrant,
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> NewConnection:
    """Describe the newly granted account as a connection to store."""
    scopes = grant.extra.get("scope")
    if system == "salesforce":
        return _salesforce(name, grant, scopes)
    return await _freshbooks(name, grant, settings, scopes, transport)


async def _freshbooks(
    name: str,
    grant: TokenGrant,
    settings: Settings,
    scopes: object,
    transport: httpx.AsyncBaseTransport | None,
) -> NewConnection:
    access = grant.tokens.access_token
    if access is None:
        msg = "FreshBooks granted no access token"
        raise PermanentError(msg, system="freshbooks")
    headers = {"Authorization": f"Bearer {access.get_secret_value()}"}
    async with build_http_client(
        settings.freshbooks_api_url, transport=transport, headers=headers
    ) as http:
        api = ApiClient(
            http,
            system="freshbooks",
            connection_id=name,
            map_error=map_freshbooks_error,
            retry=CallRetryPolicy(attempts=3),
            counter=CallCounter(),
        )
        me = await FreshBooksClient(api, account_id="").identity()
    return NewConnection(
        id=name,
        system="freshbooks",
        tokens=grant.tokens,
        remote_account=me.account_id,
        remote_business=str(me.business_id),
        scopes=None if scopes is None else str(scopes),
    )


def _salesforce(name: str, grant: TokenGrant, scopes: object) -> NewConnection:
    identity_url = str(grant.extra.get("id") or "")
    parts = [p for p in httpx.URL(identity_url).path.split("/") if p]
    instance_url = grant.extra.get("instance_url")
    if len(parts) < 3 or parts[-3] != "id" or not instance_url:  # noqa: PLR2004 - /id/org/user
        msg = "Salesforce's token answer lacks an identity URL (/id/<org>/<user>) or instance_url"
        raise PermanentError(msg, system="salesforce")
    return NewConnection(
        id=name,
        system="salesforce",
        tokens=grant.tokens,
        remote_account=parts[-2],
        remote_business=parts[-1],
        instance_url=str(instance_url),
        scopes=None if scopes is None else str(scopes),
    )
