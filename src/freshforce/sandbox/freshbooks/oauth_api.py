"""FreshBooks OAuth routes: the consent page, the token endpoint and revoke."""

from __future__ import annotations

import html
import json
import urllib.parse
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from freshforce.sandbox.freshbooks.errors import FreshBooksApiError, oauth_error
from freshforce.sandbox.freshbooks.state import FreshBooksState

__all__ = ["oauth_router"]

JSON = dict[str, Any]  # token endpoint answers


def oauth_router(state: FreshBooksState, *, auto_approve: bool) -> APIRouter:
    """Build ``/oauth/authorize`` (page or auto-approve), ``/auth/oauth/token`` and revoke."""
    router = APIRouter(tags=["oauth"])

    @router.get("/oauth/authorize")
    @router.get("/oauth/authorize/", include_in_schema=False)
    async def authorize_page(request: Request) -> Response:
        params = dict(request.query_params)
        _check_authorize(state, params)
        if auto_approve:
            return _approve(state, params)
        return HTMLResponse(_consent_page(state, params))

    @router.post("/oauth/authorize")
    async def authorize_decision(request: Request) -> Response:
        params = {k: str(v) for k, v in (await request.form()).items()}
        _check_authorize(state, params)
        if params.get("decision") != "approve":
            return _redirect(params, {"error": "access_denied"})
        return _approve(state, params)

    @router.post("/auth/oauth/token")
    async def token(request: Request) -> JSONResponse:
        params = await _params(request)
        grant = params.get("grant_type", "")
        client_id, secret = _need(params, "client_id"), _need(params, "client_secret")
        if grant == "authorization_code":
            tokens = state.oauth.exchange_code(
                client_id, secret, _need(params, "redirect_uri"), _need(params, "code")
            )
            return JSONResponse(tokens)
        if grant == "refresh_token":
            return JSONResponse(
                state.oauth.refresh(client_id, secret, _need(params, "refresh_token"))
            )
        raise oauth_error(
            400,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
        )

    @router.post("/auth/oauth/revoke")
    async def revoke(request: Request) -> JSONResponse:
        params = await _params(request)
        state.oauth.revoke(
            _need(params, "client_id"), _need(params, "client_secret"), _need(params, "token")
        )
        return JSONResponse({})

    return router


async def _params(request: Request) -> dict[str, str]:
    """Read a token request sent as a form (Python SDK) or as JSON (Node SDK)."""
    if "json" in request.headers.get("content-type", ""):
        try:
            parsed = json.loads(await request.body() or b"{}")
        except ValueError:
            raise oauth_error(
                400, "invalid_request", "The request body is not valid JSON."
            ) from None
        if not isinstance(parsed, dict):
            raise oauth_error(400, "invalid_request", "The request body must be a JSON object.")
        return {k: str(v) for k, v in parsed.items() if v is not None}
    return {k: str(v) for k, v in (await request.form()).items()}


def _need(params: dict[str, str], name: str) -> str:
    value = params.get(name, "")
    if not value:
        raise oauth_error(400, "invalid_request", f"Missing required parameter: {name}.")
    return value


def _check_authorize(state: FreshBooksState, params: dict[str, str]) -> None:
    if params.get("response_type") != "code":
        raise oauth_error(400, "unsupported_response_type", "response_type must be 'code'.")
    if params.get("client_id") not in state.oauth.apps:
        raise oauth_error(401, "invalid_client", "Unknown client_id.")
    uri = params.get("redirect_uri", "")
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise oauth_error(
            400, "invalid_redirect_uri", "redirect_uri must be an absolute URL without a query."
        )


def _approve(state: FreshBooksState, params: dict[str, str]) -> Response:
    try:
        code = state.oauth.authorize(
            params["client_id"],
            params["redirect_uri"],
            state.owner.id,
            params.get("scope", ""),
        )
    except FreshBooksApiError as exc:
        return _redirect(params, {"error": str(exc.body.get("error", "invalid_request"))})
    return _redirect(params, {"code": code})


def _redirect(params: dict[str, str], extra: dict[str, str]) -> Response:
    query = dict(extra)
    if params.get("state"):
        query["state"] = params["state"]
    return RedirectResponse(f"{params['redirect_uri']}?{urllib.parse.urlencode(query)}", 302)


def _consent_page(state: FreshBooksState, params: dict[str, str]) -> str:
    app = state.oauth.apps[params["client_id"]]
    scopes = params.get("scope") or " ".join(app.scopes)
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
    )
    items = "".join(f"<li>{html.escape(s)}</li>" for s in scopes.split())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Authorize {html.escape(app.client_id)}</title></head>
<body><main>
<h1>FreshBooks sandbox</h1>
<p><strong>{html.escape(app.client_id)}</strong> wants to access
{html.escape(state.owner.business_name)} as {html.escape(state.owner.email)}:</p>
<ul>{items}</ul>
<form method="post" action="/oauth/authorize">{hidden}
<button type="submit" name="decision" value="approve">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form></main></body></html>"""
