"""Helpers of the browser tests: where chromium is, the operator's login, serving an app."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from freshforce.web.passwords import hash_password

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
USER = "ana"
PASSWORD = "correct horse battery"
PASSWORD_HASH = hash_password(PASSWORD)  # argon2 is slow on purpose: hash once per run

# Every browser test: skipped without chromium, and run on its module's event loop, where the
# module's browser and the servers of the ``serve`` helper run too.
pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="no chromium at /usr/bin/chromium; install it with `apt-get install -y chromium`",
    ),
    pytest.mark.asyncio(loop_scope="module"),
]


class Listener:
    """A socket bound now, so an app's address is known before the app is built."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen()
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"

    @asynccontextmanager
    async def serving(self, app: Any) -> AsyncIterator[str]:
        """Serve ``app`` on this socket on the running loop; yield its address."""
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[self.socket]))
        try:
            while not server.started:
                if task.done():
                    await task  # raises what stopped it
                await asyncio.sleep(0.02)
            yield self.url
        finally:
            server.should_exit = True
            await task
            self.socket.close()


async def log_in(page: Any) -> None:
    """Fill in and send the login form the page shows, as the operator."""
    await page.fill("input[name=username]", USER)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
