"""The web app on a real socket, for the sandbox's webhook deliveries to reach."""

from __future__ import annotations

import asyncio
import socket
from typing import TYPE_CHECKING

import uvicorn

from freshforce.web import create_app

if TYPE_CHECKING:
    from fastapi import FastAPI

    from .conftest import FbWorld


def web_app(world: FbWorld) -> FastAPI:
    """The web app on the world's store; its FreshBooks calls go to the world's sandbox."""
    return create_app(world.engine, settings=world.runtime.settings, transport=world.transport)


class LiveWeb:
    """The web app served by uvicorn on a real socket at 127.0.0.1:<free port>.

    The port is bound at once but only listens after :meth:`start`, so until then deliveries to
    it are refused as if the app were down.
    """

    def __init__(self, world: FbWorld) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(
            uvicorn.Config(web_app(world), log_config=None, access_log=False, lifespan="off")
        )
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve(sockets=[self.sock]))
        for _ in range(500):
            if self.server.started:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("uvicorn did not start")

    async def stop(self) -> None:
        if self.task is not None:
            self.server.should_exit = True
            await self.task
        self.sock.close()
