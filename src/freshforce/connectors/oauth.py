"""OAuth 2.0 for both systems: the authorization-code flow, and token refresh as an ``httpx.Auth``.

Vendor-neutral. A provider is data (``OAuthProvider``); authlib builds the authorize URL (with
``state`` and, where the provider takes it, PKCE S256) and talks to the token endpoint.

Refresh (``TokenSource.refresh``) runs exactly once per stale token, under two locks: an
``asyncio.Lock`` for the tasks of this process, and the connection's refresh lock for other
processes (``store.refresh_lock``: on PostgreSQL the connection's row, held in one transaction
through the token call; on SQLite a per-connection file lock beside the database, so the
database's write lock is taken only for a short read before the call and a short write after
it). Inside the lock the stored ``token_version`` is compared with the one the caller saw: if
someone else already refreshed, their tokens are loaded and used (the loser never spends the
single-use FreshBooks refresh token a second time). Otherwise the refresh token is spent and the
new pair is written with ``replace_tokens`` (compare-and-set on the version) and committed
*before* the new access token is used. A refresh that succeeds resolves the connection's open
``connection_auth_failed`` alerts.

On SQLite no row is held during the call, so a ``freshforce connect`` may save a new grant
meanwhile: the compare-and-set then loses, the reconnect's tokens are loaded and used, and a
refusal of the old refresh token pauses nothing.

The one window that cannot be closed from this side: the provider has answered a refresh (the
old refresh token is spent) but the process dies, or the database fails, before the commit. Then
the stored refresh token is dead. The window is kept to the token call itself: nothing else runs
between the answer and the ``UPDATE``/``COMMIT``, and the token call has its own short timeout.
If it happens, the next refresh gets ``invalid_grant``, the connection is paused with one alert,
and a person runs ``freshforce connect`` again; no retry storm follows, because a paused
connection fails fast with ``AuthError`` without calling the provider.
"""

from __future__ import annotations

import asyncio
import secrets
import warnings
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import structlog
from authlib.common.security import generate_token
from authlib.deprecate import AuthlibDeprecationWarning
from authlib.integrations.base_client.errors import OAuthError
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from pydantic import SecretStr

from freshforce.clock import Clock
from freshforce.connectors.core.http import HttpSettings
from freshforce.errors import AmbiguousWriteError, AuthError, TransientError
from freshforce.store.alerts import AlertKind, raise_alert, resolve_alerts
from freshforce.store.connections import (
    Connection,
    ConnectionStatus,
    Tokens,
    load_connection,
    replace_tokens,
    set_status,
)
from freshforce.store.refresh_lock import Transaction, refresh_lock

with warnings.catch_warnings():
    # authlib >= 1.8 prefers the "httpx2" fork and warns when it falls back to httpx, which is
    # the HTTP library freshforce is built on; the httpx client still works as before.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from freshforce.store.crypto import TokenCipher

__all__ = [
    "AuthorizationRequest",
    "BearerAuth",
    "OAuthProvider",
    "TokenGrant",
    "TokenSource",
    "exchange_code",
    "refresh_grant",
    "start_authorization",
]

# Token endpoint answers are JSON objects of any shape, at the wire.
TokenResponse = Mapping[str, Any]

_SERVER_ERROR = 500
_RATE_LIMITED = 429
log = structlog.get_logger("freshforce.connectors.oauth")


@dataclass(frozen=True)
class OAuthProvider:
    """One OAuth application at one provider."""

    system: str
    authorize_url: str
    token_url: str
    client_id: str
    client_secret: SecretStr
    redirect_uri: str
    scopes: tuple[str, ...] = ()
    pkce: bool = False
    refresh_sends_redirect_uri: bool = False
    http: HttpSettings = field(default_factory=lambda: HttpSettings(read_timeout=20.0))


@dataclass(frozen=True)
class AuthorizationRequest:
    """The URL to open in a browser, and what the callback must be checked against."""

    url: str
    state: str
    code_verifier: str | None


@dataclass(frozen=True)
class TokenGrant:
    """A token endpoint answer: the tokens, and the rest of the body (ids, instance URL)."""

    tokens: Tokens
    extra: Mapping[str, Any]  # the provider's other JSON fields, at the wire


def start_authorization(provider: OAuthProvider) -> AuthorizationRequest:
    """Build the authorize URL with a fresh ``state`` (and a PKCE verifier where accepted)."""
    state = secrets.token_urlsafe(24)
    verifier = generate_token(64) if provider.pkce else None
    client = _client(provider)
    extra: dict[str, str] = {}
    if verifier is not None:
        extra = {
            "code_challenge": create_s256_code_challenge(verifier),  # type: ignore[no-untyped-call]
            "code_challenge_method": "S256",
        }
    url, _ = client.create_authorization_url(provider.authorize_url, state=state, **extra)
    return AuthorizationRequest(url=url, state=state, code_verifier=verifier)


async def exchange_code(
    provider: OAuthProvider,
    code: str,
    *,
    code_verifier: str | None,
    now: datetime,
    transport: httpx.AsyncBaseTransport | None = None,
) -> TokenGrant:
    """Trade an authorization code for tokens (``authorization_code`` grant)."""
    async with _client(provider, transport) as client:
        extra = {} if code_verifier is None else {"code_verifier": code_verifier}
        body = await _token_call(
            provider,
            client.fetch_token(
                provider.token_url, code=code, redirect_uri=provider.redirect_uri, **extra
            ),
        )
    return _grant(body, now, previous_refresh=None)


async def refresh_grant(
    provider: OAuthProvider,
    refresh_token: SecretStr,
    *,
    now: datetime,
    transport: httpx.AsyncBaseTransport | None = None,
) -> TokenGrant:
    """Spend ``refresh_token`` for a new pair; keep it when the provider does not rotate."""
    extra = {"redirect_uri": provider.redirect_uri} if provider.refresh_sends_redirect_uri else {}
    async with _client(provider, transport) as client:
        body = await _token_call(
            provider,
            client.refresh_token(
                provider.token_url, refresh_token=refresh_token.get_secret_value(), **extra
            ),
        )
    return _grant(body, now, previous_refresh=refresh_token)


def _client(
    provider: OAuthProvider, transport: httpx.AsyncBaseTransport | None = None
) -> AsyncOAuth2Client:
    client = AsyncOAuth2Client(
        client_id=provider.client_id,
        client_secret=provider.client_secret.get_secret_value(),
        scope=" ".join(provider.scopes) or None,
        redirect_uri=provider.redirect_uri,
        token_endpoint_auth_method="client_secret_post",  # noqa: S106 - a method name
        timeout=provider.http.timeout(),
        transport=transport,
    )
    for hook in ("access_token_response", "refresh_token_response"):
        client.register_compliance_hook(hook, _checked(provider.system))
    return client


def _checked(system: str) -> Callable[[httpx.Response], httpx.Response]:
    """Turn a token endpoint's 429/5xx or non-JSON answer into an error before authlib parses."""

    def check(response: httpx.Response) -> httpx.Response:
        status = response.status_code
        if status >= _SERVER_ERROR or status == _RATE_LIMITED:
            msg = f"{system}: the token endpoint answered {status}; try again later"
            raise TransientError(msg, system=system, http_status=status)
        try:
            response.json()
        except ValueError:
            msg = f"{system}: the token endpoint answered {status} without JSON"
            raise TransientError(msg, system=system, http_status=status) from None
        return response

    return check


async def _token_call(provider: OAuthProvider, call: Any) -> TokenResponse:  # noqa: ANN401 - authlib's coroutine
    try:
        body = await call
    except OAuthError as exc:
        error = str(exc.error or "")
        msg = f"{provider.system}: the token endpoint refused the grant ({error})"
        raise AuthError(msg, system=provider.system, remote_code=error) from None
    except httpx.TransportError as exc:
        msg = (
            f"{provider.system}: the token call failed in flight ({type(exc).__name__}); "
            "the grant may have been spent"
        )
        raise AmbiguousWriteError(msg, system=provider.system) from None
    return dict(body)


def _grant(body: TokenResponse, now: datetime, previous_refresh: SecretStr | None) -> TokenGrant:
    access = body.get("access_token")
    if not access:
        msg = "the token endpoint answered without an access_token"
        raise TransientError(msg)
    refresh = body.get("refresh_token")
    expires_in = body.get("expires_in")
    expires_at = now + timedelta(seconds=int(expires_in)) if expires_in else None
    tokens = Tokens(
        access_token=SecretStr(str(access)),
        refresh_token=SecretStr(str(refresh)) if refresh else previous_refresh,
        expires_at=expires_at,
    )
    secret_keys = {"access_token", "refresh_token", "id_token"}
    return TokenGrant(tokens=tokens, extra={k: v for k, v in body.items() if k not in secret_keys})


# -- refresh -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Current:
    access_token: SecretStr
    version: int
    refresh_at: datetime | None  # when this process counts the token as due
    refreshed: bool = False  # this process spent the refresh token for it


class TokenSource:
    """A connection's current access token, refreshed once under a lock and stored before use.

    Build one per connection per process and share it among that process's tasks. A token is due
    ``early_fraction`` of its lifetime before it expires, at most ``early`` before: a 12-hour
    token is refreshed 5 minutes early, a 60-second one 6 seconds early. A token first seen
    mid-life (loaded from the store) counts its lifetime from when it was loaded.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        cipher: TokenCipher,
        connection_id: str,
        provider: OAuthProvider,
        *,
        clock: Clock,
        transport: httpx.AsyncBaseTransport | None = None,
        early: timedelta = timedelta(minutes=5),
        early_fraction: float = 0.1,
        lock_wait: float = 120.0,
    ) -> None:
        if not 0.0 <= early_fraction < 1.0:
            msg = f"TokenSource early_fraction must be in [0, 1), not {early_fraction!r}"
            raise ValueError(msg)
        self.connection_id = connection_id
        self._engine = engine
        self._cipher = cipher
        self._provider = provider
        self._clock = clock
        self._transport = transport
        self._early = early
        self._early_fraction = early_fraction
        self._lock_wait = lock_wait
        self._lock = asyncio.Lock()
        self._current: _Current | None = None
        self.refreshes = 0  # refreshes this source performed itself (not reloads)

    async def current(self) -> tuple[SecretStr, int]:
        """Return the access token and its ``token_version``; refresh first if it is due."""
        if self._current is None:
            async with self._lock:
                if self._current is None:
                    self._current = await self._load()
        current = self._current
        if current.refresh_at is not None and current.refresh_at <= self._clock():
            return await self.refresh(current.version)
        return current.access_token, current.version

    async def refresh(self, stale_version: int) -> tuple[SecretStr, int]:
        """Replace the token the caller saw at ``stale_version``; return the one to use now."""
        async with self._lock:
            current = self._current
            if current is not None and current.version != stale_version:
                return current.access_token, current.version  # another task already did it
            self._current = await self._refresh_locked(stale_version)
            return self._current.access_token, self._current.version

    async def _load(self) -> _Current:
        async with self._engine.connect() as db:
            connection = await load_connection(db, self._cipher, self.connection_id)
        return self._usable(self._active(connection))

    def _active(self, connection: Connection | None) -> Connection:
        if connection is None:
            raise self._error(f"connection {self.connection_id!r} does not exist")
        if connection.status != ConnectionStatus.ACTIVE:
            raise self._paused(connection.status_reason)
        return connection

    def _usable(self, connection: Connection) -> _Current:
        token = connection.tokens.access_token
        if token is None:
            raise self._error(f"connection {self.connection_id!r} has no access token")
        return self._arrived(token, connection.token_version, connection.tokens.expires_at)

    def _arrived(
        self,
        token: SecretStr,
        version: int,
        expires_at: datetime | None,
        *,
        seen: datetime | None = None,
        refreshed: bool = False,
    ) -> _Current:
        if expires_at is None:
            return _Current(token, version, None, refreshed)
        lifetime = max(expires_at - (seen or self._clock()), timedelta(0))
        margin = min(self._early, lifetime * self._early_fraction)
        return _Current(token, version, expires_at - margin, refreshed)

    async def _refresh_locked(self, stale_version: int) -> _Current:
        async with refresh_lock(self._engine, self.connection_id, wait=self._lock_wait) as tx:
            async with tx() as db:
                connection = self._active(
                    await load_connection(db, self._cipher, self.connection_id)
                )
            if connection.token_version != stale_version:
                outcome: _Current | AuthError = self._reloaded(connection)
            else:
                outcome = await self._renew(tx, connection)
        if isinstance(outcome, AuthError):
            raise outcome  # after the lock is left, so PostgreSQL commits the pause and alert
        if outcome.refreshed:  # committed: only now is the new token used
            self.refreshes += 1
            log.info(
                "token_refreshed", connection_id=self.connection_id, token_version=outcome.version
            )
        return outcome

    async def _renew(self, tx: Transaction, connection: Connection) -> _Current | AuthError:
        """Spend the refresh token, then store the new pair, or pause on a refusal.

        On SQLite each ``tx()`` is a short transaction of its own and the token call runs
        between them, outside the write lock; on PostgreSQL all are the one holding the row.
        """
        version, now = connection.token_version, self._clock()
        try:
            grant = await self._spend(connection.tokens.refresh_token, now)
        except AuthError as exc:
            async with tx() as db:
                paused = await self._pause(db, exc, version)
            return exc if paused else await self._reload(tx)
        async with tx() as db:
            won = await self._store(db, grant, version)
        if not won:
            return await self._reload(tx)
        assert grant.tokens.access_token is not None  # noqa: S101 - _grant guarantees it
        return self._arrived(
            grant.tokens.access_token,
            version + 1,
            grant.tokens.expires_at,
            seen=now,
            refreshed=True,
        )

    async def _spend(self, refresh_token: SecretStr | None, now: datetime) -> TokenGrant:
        if refresh_token is None:
            msg = f"connection {self.connection_id!r} has no refresh token; reconnect it"
            raise AuthError(msg, system=self._provider.system)
        return await refresh_grant(
            self._provider, refresh_token, now=now, transport=self._transport
        )

    async def _store(self, db: AsyncConnection, grant: TokenGrant, version: int) -> bool:
        """Compare-and-set the new pair; a refresh that works again closes the auth alerts."""
        now = self._clock()
        won = await replace_tokens(
            db, self._cipher, self.connection_id, grant.tokens, expected_version=version, now=now
        )
        if won:
            await resolve_alerts(
                db,
                kind=AlertKind.CONNECTION_AUTH_FAILED,
                connection_id=self.connection_id,
                notice_kind=AlertKind.CONNECTION_AUTH_RECOVERED,
                message=f"{self._provider.system} connection {self.connection_id}: token refreshed",
                now=now,
            )
        return won

    async def _reload(self, tx: Transaction) -> _Current:
        # Only on SQLite, where no row is held during the call: the connection was saved anew
        # (``freshforce connect``) meanwhile. Its tokens win; the answer just received is dropped.
        async with tx() as db:
            connection = self._active(await load_connection(db, self._cipher, self.connection_id))
        return self._reloaded(connection)

    def _reloaded(self, connection: Connection) -> _Current:
        log.info(
            "token_reloaded",
            connection_id=self.connection_id,
            token_version=connection.token_version,
        )
        return self._usable(connection)

    async def _pause(self, db: AsyncConnection, exc: AuthError, version: int) -> bool:
        reason = f"token refresh refused ({exc.remote_code or 'no refresh token'}); reconnect"
        now = self._clock()
        paused = await set_status(
            db,
            self.connection_id,
            ConnectionStatus.PAUSED,
            reason=reason,
            now=now,
            expected_version=version,
        )
        if not paused:
            return False
        await raise_alert(
            db,
            kind=AlertKind.CONNECTION_AUTH_FAILED,
            message=f"{self._provider.system} connection {self.connection_id}: {reason}",
            connection_id=self.connection_id,
            now=now,
        )
        log.warning("connection_paused", connection_id=self.connection_id, reason=reason)
        return True

    def _paused(self, reason: str | None) -> AuthError:
        return self._error(
            f"connection {self.connection_id!r} is paused ({reason or 'no reason'}); "
            "run `freshforce connect` again"
        )

    def _error(self, message: str) -> AuthError:
        return AuthError(message, system=self._provider.system)


class BearerAuth(httpx.Auth):
    """Send the connection's bearer token; on an expired-token answer refresh once, resend."""

    def __init__(
        self,
        source: TokenSource,
        is_expired: Callable[[httpx.Response], bool] = lambda r: r.status_code == 401,  # noqa: PLR2004
    ) -> None:
        self._source = source
        self._is_expired = is_expired

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token, version = await self._source.current()
        request.headers["Authorization"] = f"Bearer {token.get_secret_value()}"
        response = yield request
        if not self._is_expired(response):
            return
        await response.aread()
        token, _ = await self._source.refresh(version)
        request.headers["Authorization"] = f"Bearer {token.get_secret_value()}"
        yield request
