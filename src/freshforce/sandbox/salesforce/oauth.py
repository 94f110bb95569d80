"""OAuth 2.0 routes: web-server and password flows, refresh, revoke, userinfo, identity URL.

The sandbox serves as its own login host, so the token response's ``instance_url`` and ``id``
point back at whatever URL the client used. Token rules are in ``sessions.py``.
"""

from __future__ import annotations

import base64
import binascii
import html
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)

from freshforce.sandbox.salesforce.sessions import OAuthError, Session, Sessions, TokenGrant
from freshforce.sandbox.salesforce.state import SalesforceState

__all__ = ["oauth_router"]

# OAuth and identity bodies are JSON objects with mixed value types.
JSON = dict[str, Any]
_AUTHORIZE_FIELDS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "scope",
    "code_challenge",
    "code_challenge_method",
)


def _instance_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _login_page(params: dict[str, str], error: str | None = None) -> HTMLResponse:
    hidden = "".join(
        f'<input type="hidden" name="{k}" value="{html.escape(v)}">' for k, v in params.items()
    )
    notice = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Login | Salesforce sandbox</title></head>
<body><main><h1>Log in to the freshforce Salesforce sandbox</h1>{notice}
<p>Application <strong>{html.escape(params.get("client_id", ""))}</strong> asks for access.</p>
<form method="post" action="/services/oauth2/authorize">{hidden}
<label>Username <input name="username" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button name="action" value="approve">Allow</button>
<button name="action" value="deny">Deny</button>
</form></main></body></html>"""
    return HTMLResponse(page, status_code=200 if error is None else 401)


def _redirect(redirect_uri: str, **params: str) -> RedirectResponse:
    separator = "&" if "?" in redirect_uri else "?"
    query = urlencode({k: v for k, v in params.items() if v})
    return RedirectResponse(f"{redirect_uri}{separator}{query}", status_code=302)


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str, str | None]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:]).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError("invalid_client", "malformed basic credentials") from None
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    return form.get("client_id", ""), form.get("client_secret")


def _bearer(request: Request, sessions: Sessions) -> Session | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() not in {"bearer", "oauth"}:
        return None
    return sessions.authenticate(token.strip())


def _grant(sessions: Sessions, request: Request, form: dict[str, str]) -> TokenGrant:
    grant_type = form.get("grant_type", "")
    client_id, secret = _client_credentials(request, form)
    if grant_type == "authorization_code":
        return sessions.exchange_code(
            client_id,
            secret,
            form.get("code", ""),
            form.get("redirect_uri", ""),
            form.get("code_verifier"),
        )
    if grant_type == "refresh_token":
        return sessions.refresh(client_id, secret, form.get("refresh_token", ""))
    if grant_type == "password":
        return sessions.password_login(
            client_id, secret, form.get("username", ""), form.get("password", "")
        )
    raise OAuthError("unsupported_grant_type", "grant type not supported")


def _user_info(state: SalesforceState, instance_url: str, session: Session) -> JSON:
    user = state.get_record(session.user_id) or {}
    version = "{version}"
    rest = f"{instance_url}/services/data/v{version}/"
    return {
        "sub": f"{instance_url}/id/{state.org_id}/{session.user_id}",
        "user_id": session.user_id,
        "organization_id": state.org_id,
        "preferred_username": user.get("Username"),
        "nickname": user.get("Alias"),
        "name": user.get("Name"),
        "email": user.get("Email"),
        "email_verified": True,
        "given_name": user.get("FirstName"),
        "family_name": user.get("LastName"),
        "zoneinfo": user.get("TimeZoneSidKey"),
        "active": bool(user.get("IsActive")),
        "user_type": "STANDARD",
        "language": user.get("LanguageLocaleKey"),
        "locale": user.get("LocaleSidKey"),
        "utcOffset": 0,
        "urls": {
            "rest": rest,
            "sobjects": f"{rest}sobjects/",
            "query": f"{rest}query/",
            "limits": f"{rest}limits/",
            "profile": f"{instance_url}/{session.user_id}",
        },
    }


def _identity(state: SalesforceState, instance_url: str, session: Session) -> JSON:
    info = _user_info(state, instance_url, session)
    user = state.get_record(session.user_id) or {}
    return {
        "id": info["sub"],
        "asserted_user": True,
        "user_id": session.user_id,
        "organization_id": state.org_id,
        "username": info["preferred_username"],
        "nick_name": info["nickname"],
        "display_name": info["name"],
        "email": info["email"],
        "first_name": info["given_name"],
        "last_name": info["family_name"],
        "active": info["active"],
        "user_type": "STANDARD",
        "language": info["language"],
        "locale": info["locale"],
        "utcOffset": 0,
        "last_modified_date": user.get("LastModifiedDate"),
        "is_app_installed": True,
        "urls": info["urls"],
    }


def oauth_router(state: SalesforceState, sessions: Sessions) -> APIRouter:
    """Build ``/services/oauth2/*`` and ``/id/{org}/{user}``."""
    router = APIRouter()
    _authorize_routes(router, sessions)
    _token_routes(router, sessions)
    _identity_routes(router, state, sessions)
    return router


def _authorize_routes(router: APIRouter, sessions: Sessions) -> None:
    @router.get("/services/oauth2/authorize")
    async def authorize_page(request: Request) -> Response:
        params = {k: request.query_params.get(k, "") for k in _AUTHORIZE_FIELDS}
        sessions.check_redirect(params["client_id"], params["redirect_uri"])
        if params["response_type"] != "code":
            return _redirect(
                params["redirect_uri"],
                error="unsupported_response_type",
                error_description="response type not supported",
                state=params["state"],
            )
        if sessions.auto_approve_user is not None:
            code = sessions.authorize(
                params["client_id"],
                params["redirect_uri"],
                sessions.auto_approve_user,
                params["scope"] or "api refresh_token",
                params["code_challenge"] or None,
            )
            return _redirect(params["redirect_uri"], code=code, state=params["state"])
        return _login_page({k: v for k, v in params.items() if v})

    @router.post("/services/oauth2/authorize")
    async def authorize(request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        params = {k: form.get(k, "") for k in _AUTHORIZE_FIELDS}
        sessions.check_redirect(params["client_id"], params["redirect_uri"])
        if form.get("action") == "deny":
            return _redirect(
                params["redirect_uri"],
                error="access_denied",
                error_description="end-user denied authorization",
                state=params["state"],
            )
        try:
            user_id = sessions.check_login(form.get("username", ""), form.get("password", ""))
        except OAuthError:
            kept = {k: v for k, v in params.items() if v}
            return _login_page(kept, "Please check your username and password.")
        code = sessions.authorize(
            params["client_id"],
            params["redirect_uri"],
            user_id,
            params["scope"] or "api refresh_token",
            params["code_challenge"] or None,
        )
        return _redirect(params["redirect_uri"], code=code, state=params["state"])


def _token_routes(router: APIRouter, sessions: Sessions) -> None:
    @router.post("/services/oauth2/token")
    async def token(request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        grant = _grant(sessions, request, form)
        return JSONResponse(grant.response(_instance_url(request)))

    async def _revoke(request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        sessions.revoke(form.get("token") or request.query_params.get("token", ""))
        return Response(status_code=200)

    @router.post("/services/oauth2/revoke")
    async def revoke(request: Request) -> Response:
        return await _revoke(request)

    @router.get("/services/oauth2/revoke")
    async def revoke_by_get(request: Request) -> Response:
        return await _revoke(request)


def _identity_routes(router: APIRouter, state: SalesforceState, sessions: Sessions) -> None:
    @router.get("/services/oauth2/userinfo")
    async def userinfo(request: Request) -> Response:
        session = _bearer(request, sessions)
        if session is None:
            return PlainTextResponse("Bad_OAuth_Token", status_code=403)
        return JSONResponse(_user_info(state, _instance_url(request), session))

    def _identity_response(request: Request, org_id: str, user_id: str) -> Response:
        session = _bearer(request, sessions)
        if session is None:
            return PlainTextResponse("Bad_OAuth_Token", status_code=403)
        if org_id[:15] != state.org_id[:15] or user_id[:15] != session.user_id[:15]:
            return PlainTextResponse("Bad_Id", status_code=403)
        return JSONResponse(_identity(state, _instance_url(request), session))

    @router.get("/id/{org_id}/{user_id}")
    async def identity(request: Request, org_id: str, user_id: str) -> Response:
        return _identity_response(request, org_id, user_id)

    @router.post("/id/{org_id}/{user_id}")
    async def identity_by_post(request: Request, org_id: str, user_id: str) -> Response:
        return _identity_response(request, org_id, user_id)
