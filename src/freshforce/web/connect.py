"""Connect, reconnect and disconnect FreshBooks and Salesforce from the dashboard (operators).

The same OAuth flow as ``freshforce connect``, with the dashboard as the redirect target:
``POST /connections/{system}/connect`` sends the browser to the provider with a fresh ``state``
(and PKCE verifier for Salesforce, encrypted with the token keys) kept in a signed, HttpOnly
cookie of ten minutes;
``GET /connections/{system}/callback`` checks that ``state``, trades the code for tokens and
stores the connection encrypted. Register ``<public_url>/connections/<system>/callback`` (or the
dashboard's own address without ``public_url``) as a redirect URI of each OAuth app.
"""

from __future__ import annotations

import hmac
from dataclasses import replace
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Path, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from freshforce.connectors.oauth import OAuthProvider, exchange_code, start_authorization
from freshforce.connectors.providers import connection_from_grant, provider_for
from freshforce.errors import ConfigError, FreshforceError
from freshforce.store.audit import record_audit
from freshforce.store.connections import save_connection
from freshforce.store.crypto import TokenCipher
from freshforce.store.disconnect import remove_connection
from freshforce.web import views
from freshforce.web.auth import Principal, check_csrf, page_operator
from freshforce.web.deps import WebDeps, web_deps
from freshforce.web.pages import render

__all__ = ["CONNECTION_NAME", "OAUTH_COOKIE", "forget_connection", "router"]

router = APIRouter(include_in_schema=False)
Deps = Annotated[WebDeps, Depends(web_deps)]
Operator = Annotated[Principal, Depends(page_operator)]
System = Literal["freshbooks", "salesforce"]
OAUTH_COOKIE = "ff_oauth"
_PURPOSE = "oauth-connect"
_LIFETIME = timedelta(minutes=10)
CONNECTION_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"


async def _page(
    deps: WebDeps, request: Request, principal: Principal, *, error: str, code: int
) -> HTMLResponse:
    found = await views.connections_view(deps)
    return render(
        deps,
        request,
        "connections.html",
        principal,
        status_code=code,
        connections=found,
        error=error,
    )


_NO_SETTINGS = "the dashboard was started without settings; connect with `freshforce connect`"


def _cipher(deps: WebDeps) -> TokenCipher:
    """Return the token cipher; raise a :class:`ConfigError` naming the setting without keys."""
    if deps.settings is None:
        raise ConfigError(_NO_SETTINGS)
    return TokenCipher(deps.settings.encryption_keys)


def _provider(deps: WebDeps, request: Request, system: System) -> OAuthProvider:
    if deps.settings is None:
        raise ConfigError(_NO_SETTINGS)
    base = deps.settings.public_url or str(request.base_url).rstrip("/")
    provider = provider_for(system, deps.settings)
    return replace(provider, redirect_uri=f"{base}/connections/{system}/callback")


@router.post("/connections/{system}/connect")
async def start_connect(
    *,
    request: Request,
    deps: Deps,
    principal: Operator,
    system: System,
    name: Annotated[str, Form(pattern=CONNECTION_NAME)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(principal, csrf_token)
    try:
        provider = _provider(deps, request, system)
        cipher = _cipher(deps)  # refuse now rather than after the provider's consent
    except ConfigError as exc:
        return await _page(deps, request, principal, error=str(exc), code=409)
    started = start_authorization(provider)
    verifier = started.code_verifier
    sealed = deps.signer.seal(
        _PURPOSE,
        {
            "system": system,
            "name": name or system,
            "state": started.state,
            "verifier": None if verifier is None else cipher.encrypt(verifier),
            "user": principal.username,
            "until": int((deps.clock() + _LIFETIME).timestamp()),
        },
    )
    response = RedirectResponse(started.url, status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        OAUTH_COOKIE,
        sealed,
        max_age=int(_LIFETIME.total_seconds()),
        path="/connections",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


def _check_return(
    deps: WebDeps,
    *,
    principal: Principal,
    system: str,
    sealed: dict[str, str | int | None] | None,
    state: str,
    error: str,
) -> str | None:
    """Return why the callback is refused, or ``None`` when it may proceed."""
    if sealed is None or sealed.get("system") != system:
        return "no connect was started from this browser for that system; start it again"
    if sealed.get("user") != principal.username:
        return "this connect was started by another user; start it again"
    if int(sealed.get("until") or 0) < deps.clock().timestamp():
        return "the connect took more than 10 minutes; start it again"
    if error:
        return f"{system} refused the authorisation ({error})"
    if not hmac.compare_digest(str(sealed.get("state") or ""), state):
        return "the callback's state does not match this connect; start it again"
    return None


@router.get("/connections/{system}/callback")
async def finish_connect(
    *,
    request: Request,
    deps: Deps,
    principal: Operator,
    system: System,
    code: str = "",
    state: str = "",
    error: str = "",
) -> Response:
    sealed = deps.signer.unseal(_PURPOSE, request.cookies.get(OAUTH_COOKIE))
    refused = _check_return(
        deps, principal=principal, system=system, sealed=sealed, state=state, error=error
    )
    if refused is None and not code:
        refused = f"{system} sent no authorization code; start again"
    if refused is not None or sealed is None:
        return await _page(deps, request, principal, error=str(refused), code=400)
    name = str(sealed["name"])
    try:
        provider = _provider(deps, request, system)
        cipher = _cipher(deps)
        verifier = sealed.get("verifier")
        grant = await exchange_code(
            provider,
            code,
            code_verifier=None if verifier is None else cipher.decrypt(str(verifier)),
            now=deps.clock(),
            transport=deps.transport,
        )
        assert deps.settings is not None  # noqa: S101 - _provider checked it
        new = await connection_from_grant(
            system, name, grant, deps.settings, transport=deps.transport
        )
    except FreshforceError as exc:
        return await _page(deps, request, principal, error=str(exc), code=502)
    async with deps.engine.begin() as db:
        await save_connection(db, cipher, new, now=deps.clock())
        await record_audit(
            db,
            actor=principal.username,
            action="connection.connect",
            target=f"connection:{name}",
            now=deps.clock(),
            detail={"system": system, "remote_account": new.remote_account},
        )
    response = RedirectResponse(f"/connections?connected={name}", status_code=303)
    response.delete_cookie(OAUTH_COOKIE, path="/connections")
    return response


@router.post("/connections/{connection_id}/disconnect")
async def disconnect(
    request: Request,
    deps: Deps,
    principal: Operator,
    connection_id: Annotated[str, Path(pattern=CONNECTION_NAME)],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(principal, csrf_token)
    if not await forget_connection(deps, principal.username, connection_id):
        error = f"no connection {connection_id}"
        return await _page(deps, request, principal, error=error, code=404)
    return RedirectResponse("/connections", status_code=303)


async def forget_connection(deps: WebDeps, actor: str, connection_id: str) -> bool:
    """Delete a connection, its tokens and webhook verifiers, audited; say whether it existed."""
    async with deps.engine.begin() as db:
        gone = await remove_connection(db, connection_id)
        if gone:
            await record_audit(
                db,
                actor=actor,
                action="connection.disconnect",
                target=f"connection:{connection_id}",
                now=deps.clock(),
            )
    return gone
