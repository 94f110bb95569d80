"""Login and logout pages: the rate limit, the login form's CSRF cookie, the session cookie.

The login form is protected by a double-submit token (a random cookie the form must echo), as
there is no session yet to bind it to. Good and failed logins are logged by name and address,
never with the password.
"""

from __future__ import annotations

import secrets
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Form, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from freshforce.store.users import get_user
from freshforce.web.auth import Principal, check_csrf, page_user
from freshforce.web.deps import WebDeps, web_deps
from freshforce.web.passwords import verify_password
from freshforce.web.sessions import SESSION_COOKIE, SESSION_LIFETIME

__all__ = ["router", "safe_next"]

LOGIN_CSRF_COOKIE = "ff_login_csrf"
router = APIRouter(include_in_schema=False)
log = structlog.get_logger(__name__)


def safe_next(target: str | None) -> str:
    """Return ``target`` when it is a path on this site, else ``/``."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _login_page(
    request: Request,
    deps: WebDeps,
    *,
    next_path: str,
    error: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = deps.templates.TemplateResponse(
        request,
        "login.html",
        {"principal": None, "login_csrf": token, "next": next_path, "error": error},
        status_code=status_code,
        headers=headers,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="lax", secure=_secure(request)
    )
    return response


@router.get("/login")
async def login_form(
    request: Request,
    deps: Annotated[WebDeps, Depends(web_deps)],
    next_path: Annotated[str, Query(alias="next")] = "/",
) -> HTMLResponse:
    return _login_page(request, deps, next_path=safe_next(next_path))


@router.post("/login")
async def login(
    *,
    request: Request,
    deps: Annotated[WebDeps, Depends(web_deps)],
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form()] = "",
    next_field: Annotated[str, Form(alias="next")] = "/",
) -> Response:
    next_path = safe_next(next_field)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not cookie or not secrets.compare_digest(cookie, csrf_token):
        return _login_page(
            request,
            deps,
            next_path=next_path,
            error="The form expired; try again.",
            status_code=403,
        )
    client = request.client.host if request.client else "unknown"
    keys = (f"user:{username}", f"ip:{client}")
    wait = deps.limiter.retry_after(*keys)
    if wait is not None:
        deps.metrics.logins.labels(outcome="limited").inc()
        log.warning("web_login_limited", username=username, client=client)
        return _login_page(
            request,
            deps,
            next_path=next_path,
            error=f"Too many failed logins; try again in {int(wait) + 1} s.",
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            headers={"Retry-After": str(int(wait) + 1)},
        )
    async with deps.engine.connect() as conn:
        user = await get_user(conn, username)
    if not await verify_password(password, None if user is None else user.password_hash):
        deps.limiter.failed(*keys)
        deps.metrics.logins.labels(outcome="failed").inc()
        log.warning("web_login_failed", username=username, client=client)
        return _login_page(
            request, deps, next_path=next_path, error="Wrong name or password.", status_code=401
        )
    assert user is not None  # noqa: S101 - verify_password is False without a user
    deps.limiter.succeeded(keys[0])
    deps.metrics.logins.labels(outcome="ok").inc()
    log.info("web_login", username=username, client=client, role=user.role.value)
    value, _ = deps.signer.issue(
        username=user.username, password_hash=user.password_hash, now=deps.clock()
    )
    response = RedirectResponse(next_path, status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
async def logout(
    principal: Annotated[Principal, Depends(page_user)],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(principal, csrf_token)
    log.info("web_logout", username=principal.username)
    response = RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(SESSION_COOKIE)
    return response
