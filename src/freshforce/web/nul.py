r"""Refuse a request whose path, query or body holds a NUL character, before a route reads it.

PostgreSQL cannot store or compare text containing NUL (``\x00``), so such a value reaching a
query fails inside the database: a 500 where the person sent bad input. No valid id, name,
filter or date contains one, so the app answers 422 naming the parameter (or ``body``)
instead. Bodies are checked when they are JSON or a form, except on the webhook route, which
stores what FreshBooks sent as it came.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["RefuseNul"]

# A NUL as JSON writes it (\u0000), as a form writes it (%00), or as a raw byte.
_BODY_NUL = re.compile(rb"\\u0000|%00|\x00", re.IGNORECASE)
_CHECKED_BODIES = (b"application/json", b"application/x-www-form-urlencoded")


class RefuseNul:
    """ASGI middleware: 422 for a NUL character in the path or in a query parameter."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        where = _nul_in(scope) if scope["type"] == "http" else None
        if where is None and _body_checked(scope):
            messages = [await receive()]
            while messages[-1].get("more_body", False):
                messages.append(await receive())
            body = b"".join(m.get("body", b"") for m in messages)
            if _BODY_NUL.search(body):
                where = ["body"]
            else:
                receive = _replay(messages, receive)
        if where is None:
            await self.app(scope, receive, send)
            return
        answer = json.dumps({"detail": [{"loc": where, "msg": "contains a NUL character"}]})
        await send(
            {
                "type": "http.response.start",
                "status": 422,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": answer.encode()})


def _nul_in(scope: Scope) -> list[str] | None:
    if "\x00" in scope.get("path", ""):
        return ["path"]
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return ["query", name.replace("\x00", "\\x00")]
    return None


def _body_checked(scope: Scope) -> bool:
    if scope["type"] != "http" or scope.get("method") not in {"POST", "PUT", "PATCH"}:
        return False
    if str(scope.get("path", "")).startswith("/webhooks/"):
        return False
    headers = dict(scope.get("headers", []))
    return headers.get(b"content-type", b"").split(b";")[0].strip().lower() in _CHECKED_BODIES


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """Return a ``receive`` that gives the read messages again, then the real ones."""
    pending = list(messages)

    async def again() -> Message:
        return pending.pop(0) if pending else await receive()

    return again
