"""The HTTP plumbing every Salesforce route shares: caller checks, replies, errors, headers.

``Caller`` is what the bearer token, the path's API version and ``Sforce-Call-Options`` say about
a request; ``caller_dependency`` checks them in Salesforce's order (version, session, daily
allocation). ``WireMiddleware`` accepts trailing slashes and puts ``Sforce-Limit-Info`` on every
``/services/data/vXX.X`` response.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from freshforce.sandbox.core import attribute_request
from freshforce.sandbox.salesforce.errors import (
    SalesforceError,
    invalid_session,
    json_parser_error,
    not_found,
)
from freshforce.sandbox.salesforce.limits import ApiAllocation
from freshforce.sandbox.salesforce.sessions import Session, Sessions
from freshforce.sandbox.salesforce.sobjects import Reply
from freshforce.sandbox.salesforce.state import WriteContext

__all__ = [
    "MAX_VERSION",
    "MIN_VERSION",
    "Caller",
    "WireMiddleware",
    "call_options_client",
    "caller_dependency",
    "read_json",
    "respond",
    "salesforce_error_response",
]

MIN_VERSION = 42
MAX_VERSION = 62
_VERSION = re.compile(r"(\d{2})\.0")
_CLIENT = re.compile(r"(?:^|[;,])\s*client\s*=\s*([^;,\s]+)")

# ASGI's own types are dicts of anything: this is the wire between server and app.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[None],
]


@dataclass(frozen=True)
class Caller:
    """An authenticated, counted REST request: whose session, which version, which client."""

    session: Session
    version: str
    ctx: WriteContext


def call_options_client(header: str | None) -> str | None:
    """Return the ``client=`` option of ``Sforce-Call-Options`` (``;`` or ``,`` separated)."""
    if not header:
        return None
    found = _CLIENT.search(header)
    return found.group(1) if found else None


def check_version(version: str) -> str:
    """Return ``version`` (``59.0``) when served, or raise NOT_FOUND as Salesforce does."""
    found = _VERSION.fullmatch(version)
    if found is None or not MIN_VERSION <= int(found.group(1)) <= MAX_VERSION:
        raise not_found()
    return version


def caller_dependency(
    sessions: Sessions, allocation: ApiAllocation
) -> Callable[[Request, str], Awaitable[Caller]]:
    """Build the dependency that authenticates and counts each REST call.

    It is a coroutine so FastAPI runs it on the loop rather than in a worker thread.
    """

    async def caller(request: Request, version: str) -> Caller:
        check_version(version)
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        session = (
            sessions.authenticate(token.strip()) if scheme.lower() in {"bearer", "oauth"} else None
        )
        if session is None:
            raise invalid_session()
        allocation.charge()
        client = call_options_client(request.headers.get("sforce-call-options"))
        attribute_request(request, session.user_id, session.client_id)
        ctx = WriteContext(user_id=session.user_id, api_version=version, client=client)
        return Caller(session=session, version=version, ctx=ctx)

    return caller


async def read_json(request: Request) -> object:
    """Return the request's JSON body, or JSON_PARSER_ERROR naming what is wrong."""
    raw = await request.body()
    if not raw.strip():
        raise json_parser_error("The request body is empty; expected a JSON document")
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise json_parser_error(
            f"Unexpected character at [line:{exc.lineno}, column:{exc.colno}]: {exc.msg}"
        ) from None


def respond(reply: Reply) -> Response:
    """Render a ``Reply``: JSON when it has a body, an empty 204 otherwise."""
    headers = dict(reply.headers)
    if reply.body is None:
        return Response(status_code=reply.status, headers=headers)
    return JSONResponse(reply.body, status_code=reply.status, headers=headers)


def salesforce_error_response(error: SalesforceError) -> Response:
    return JSONResponse(error.body(), status_code=error.status)


class WireMiddleware:
    """Trailing slashes accepted everywhere; ``Sforce-Limit-Info`` on REST responses."""

    def __init__(self, app: ASGIApp, allocation: ApiAllocation) -> None:
        self._app = app
        self._allocation = allocation

    async def __call__(
        self,
        scope: Scope,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        path: str = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            scope = dict(scope)
            scope["path"] = path.rstrip("/")
            raw: bytes = scope.get("raw_path") or b""
            scope["raw_path"] = raw.rstrip(b"/")
        if not scope["path"].startswith("/services/data/v"):
            await self._app(scope, receive, send)
            return

        async def with_limit_info(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"sforce-limit-info", self._allocation.header().encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self._app(scope, receive, with_limit_info)
