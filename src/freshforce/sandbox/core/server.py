"""Serving an ASGI app with uvicorn in-process: on a picked or given port, in a thread or a task.

``SandboxServer`` binds its socket up front (port 0 picks a free one), so ``url`` is known
before the server starts. ``start_in_thread``/``stop`` suit synchronous callers (tests driving a
sync SDK, benchmarks); ``serve`` is a coroutine for callers that own an event loop, and it leaves
signal handling to the caller so several servers can share one loop. A socket that cannot be
bound (the port in use, not allowed, or not an address of this machine) raises
:class:`ListenError`, which names the address, so the command can say what to do in one line.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Generator
from pathlib import Path

import uvicorn

from freshforce.sandbox.core.faults import ASGIApp, DroppedConnectionError
from freshforce.sandbox.core.tls import TlsFiles

__all__ = ["ListenError", "SandboxServer"]


class ListenError(OSError):
    """A sandbox server could not listen on ``host:port``; ``reason`` says why."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        super().__init__(f"cannot listen on {host}:{port} ({reason})")
        self.host = host
        self.port = port
        self.reason = reason


class _QuietDrops(logging.Filter):
    """Keep deliberate connection drops out of uvicorn's error log."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DroppedConnectionError)


class _Uvicorn(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None]:
        # The owner of the loop decides what a signal means (several servers share it).
        yield


class SandboxServer:
    """One ASGI app on one socket, optionally over TLS."""

    def __init__(
        self,
        app: ASGIApp,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: TlsFiles | None = None,
        log_level: str = "warning",
    ) -> None:
        self._socket = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((host, port))
        except OSError as exc:
            self._socket.close()
            raise ListenError(host, port, exc.strerror or str(exc)) from exc
        self._socket.set_inheritable(True)
        bound_port = self._socket.getsockname()[1]
        scheme = "https" if tls else "http"
        shown = f"[{host}]" if ":" in host else host
        self.url = f"{scheme}://{shown}:{bound_port}"
        self.port: int = bound_port
        config = uvicorn.Config(
            app,
            log_level=log_level,
            ssl_certfile=_str(tls.cert) if tls else None,
            ssl_keyfile=_str(tls.key) if tls else None,
            lifespan="on",
            access_log=False,
        )
        self._server = _Uvicorn(config)
        self._thread: threading.Thread | None = None
        errors = logging.getLogger("uvicorn.error")
        if not any(isinstance(f, _QuietDrops) for f in errors.filters):
            errors.addFilter(_QuietDrops())

    async def serve(self) -> None:
        """Run until ``stop()`` (or ``request_stop()``); returns after a graceful shutdown."""
        await self._server.serve(sockets=[self._socket])

    def request_stop(self) -> None:
        """Ask the server to finish; ``serve`` returns once open requests are done."""
        self._server.should_exit = True

    @property
    def started(self) -> bool:
        return self._server.started

    def start_in_thread(self, timeout: float = 10.0) -> None:
        """Serve from a daemon thread with its own event loop; return once accepting."""
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"sandbox server at {self.url} did not start")
            time.sleep(0.01)

    def close(self) -> None:
        """Release the socket of a server that was never served."""
        self._socket.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop a server started with ``start_in_thread`` and release its socket."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._socket.close()


def _str(path: Path) -> str:
    return str(path)
