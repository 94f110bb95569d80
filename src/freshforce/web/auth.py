"""Who is asking: the session cookie read into a user, role checks and CSRF checks.

Pages send a visitor without a session to the login page; the JSON API answers 401. The API also
takes ``Authorization: Bearer <token>`` (``freshforce users token``). A viewer asking for an
operator action gets 403, and so does a cookie-authenticated write without the session's CSRF
token (form field ``csrf_token`` or header ``X-CSRF-Token``); a bearer token is not sent by
browsers on their own, so token calls need none.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request, status

from freshforce.store.users import Role, get_user, user_by_token
from freshforce.web.deps import WebDeps, web_deps
from freshforce.web.passwords import token_hash
from freshforce.web.sessions import SESSION_COOKIE, password_fingerprint

__all__ = [
    "CSRF_HEADER",
    "LoginRequiredError",
    "Principal",
    "api_operator",
    "api_user",
    "check_csrf",
    "page_operator",
    "page_user",
]

CSRF_HEADER = "X-CSRF-Token"


class LoginRequiredError(Exception):
    """A page was asked for without a valid session; the app redirects to the login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.location = f"/login?next={quote(next_path, safe='/')}"


@dataclass(frozen=True)
class Principal:
    """A logged-in user and the CSRF token of their session."""

    username: str
    role: Role
    csrf_token: str
    via_token: bool = False

    @property
    def is_operator(self) -> bool:
        return self.role is Role.OPERATOR


async def _bearer(request: Request, deps: WebDeps) -> Principal | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    async with deps.engine.connect() as conn:
        user = await user_by_token(conn, token_hash(token.strip()))
    return None if user is None else Principal(user.username, user.role, "", via_token=True)


async def _principal(request: Request, deps: WebDeps) -> Principal | None:
    session = deps.signer.read(request.cookies.get(SESSION_COOKIE), now=deps.clock())
    if session is None:
        return None
    async with deps.engine.connect() as conn:
        user = await get_user(conn, session.username)
    if user is None or password_fingerprint(user.password_hash) != session.fingerprint:
        return None
    return Principal(user.username, user.role, deps.signer.csrf_token(session))


async def page_user(request: Request, deps: Annotated[WebDeps, Depends(web_deps)]) -> Principal:
    """Return the logged-in user of a page, or redirect to the login page."""
    principal = await _principal(request, deps)
    if principal is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequiredError(path)
    return principal


async def api_user(request: Request, deps: Annotated[WebDeps, Depends(web_deps)]) -> Principal:
    """Return the user of an API call (session cookie or bearer token), or answer 401."""
    principal = await _bearer(request, deps) or await _principal(request, deps)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "log in first (POST /login) or send a valid Authorization: Bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


def _operator(principal: Principal) -> Principal:
    if not principal.is_operator:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"{principal.username} is a viewer; operators only"
        )
    return principal


async def page_operator(principal: Annotated[Principal, Depends(page_user)]) -> Principal:
    """Return the operator asking for a page, or answer 403."""
    return _operator(principal)


async def api_operator(
    request: Request, principal: Annotated[Principal, Depends(api_user)]
) -> Principal:
    """Return the operator of an API write carrying the CSRF header, or answer 403."""
    _operator(principal)
    if not principal.via_token:
        check_csrf(principal, request.headers.get(CSRF_HEADER))
    return principal


def check_csrf(principal: Principal, token: str | None) -> None:
    """Raise 403 unless ``token`` is the session's CSRF token."""
    if token is None or not hmac.compare_digest(token, principal.csrf_token):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")
