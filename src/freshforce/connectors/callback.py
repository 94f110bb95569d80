"""The OAuth redirect catcher: a one-shot HTTP server on 127.0.0.1 that waits for ``?code=&state=``.

``freshforce connect`` starts it before printing the authorize URL; the provider redirects the
browser to it; it answers a short page and hands the query to the caller. Only the configured
callback path is accepted; anything else gets a 404 and the wait goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

__all__ = ["CallbackServer", "Redirect"]

_PAGE = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>freshforce</title>"
    "<p>{message}</p><p>You can close this window.</p></html>"
)


@dataclass(frozen=True)
class Redirect:
    """What the provider sent back: ``code`` and ``state``, or ``error``."""

    params: dict[str, str]

    @property
    def code(self) -> str | None:
        return self.params.get("code")

    @property
    def state(self) -> str | None:
        return self.params.get("state")

    @property
    def error(self) -> str | None:
        return self.params.get("error")


class CallbackServer:
    """Listens on ``host:port`` for one request to ``path``."""

    def __init__(self, host: str, port: int, path: str) -> None:
        self._host = host
        self._port = port
        self._path = path or "/"
        self._server: asyncio.Server | None = None
        self._result: asyncio.Future[Redirect] | None = None

    async def start(self) -> int:
        """Start listening; return the bound port (useful with port 0)."""
        self._result = asyncio.get_running_loop().create_future()
        self._server = await asyncio.start_server(self._handle, self._host, self._port)
        return int(self._server.sockets[0].getsockname()[1])

    async def wait(self, timeout: float) -> Redirect:  # noqa: ASYNC109 - a user-facing limit
        """Return the redirect, or raise ``TimeoutError`` after ``timeout`` seconds."""
        if self._result is None:
            msg = "CallbackServer.wait() before start()"
            raise RuntimeError(msg)
        try:
            return await asyncio.wait_for(asyncio.shield(self._result), timeout)
        finally:
            await self.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = (await asyncio.wait_for(reader.readline(), 10)).decode("latin-1")
            parts = line.split()
            target = urlsplit(parts[1]) if len(parts) >= 2 else None  # noqa: PLR2004 - verb target
            if target is None or target.path != self._path:
                await _answer(writer, 404, "Not the freshforce callback.")
                return
            params = dict(parse_qsl(target.query, keep_blank_values=True))
            ok = "error" not in params
            await _answer(writer, 200, "Connected." if ok else "Authorization was refused.")
            if self._result is not None and not self._result.done():
                self._result.set_result(Redirect(params))
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()


async def _answer(writer: asyncio.StreamWriter, status: int, message: str) -> None:
    body = _PAGE.format(message=message).encode()
    reason = "OK" if status == 200 else "Not Found"  # noqa: PLR2004 - HTTP status
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    writer.write(head.encode() + body)
    await writer.drain()
