r"""Refuse a request whose path or query holds a NUL character, before any route reads it.

PostgreSQL cannot store or compare text containing NUL (``\x00``), so such a value reaching a
query fails inside the database: a 500 where the person sent bad input. No valid id, name,
filter or date contains one, so the app answers 422 naming the parameter instead.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["RefuseNul"]


class RefuseNul:
    """ASGI middleware: 422 for a NUL character in the path or in a query parameter."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        where = _nul_in(scope) if scope["type"] == "http" else None
        if where is None:
            await self.app(scope, receive, send)
            return
        body = json.dumps({"detail": [{"loc": where, "msg": "contains a NUL character"}]})
        await send(
            {
                "type": "http.response.start",
                "status": 422,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})


def _nul_in(scope: Scope) -> list[str] | None:
    if "\x00" in scope.get("path", ""):
        return ["path"]
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return ["query", name.replace("\x00", "\\x00")]
    return None
