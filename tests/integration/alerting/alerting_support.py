"""Helpers of the alerting tests: a local Slack-style receiver, an SMTP server, store rows."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from fastapi import FastAPI, Request, Response

from freshforce.engine.queue import Failure, JobQueue, Settlement


@dataclass
class Receiver:
    """A tiny incoming-webhook server: keeps what is posted, answers ``status``."""

    status: int = 200
    posts: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/services/{path:path}")
        async def hook(path: str, request: Request) -> Response:
            if self.status < 400:
                self.posts.append(await request.json())
                self.paths.append(path)
            return Response("ok" if self.status < 400 else "no", status_code=self.status)

        return app


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], str]] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        del server, session
        text = envelope.content.decode("utf-8", "replace")
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), text))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def smtp_server() -> Iterator[tuple[int, _Mailbox]]:
    """Run aiosmtpd on a free local port; yield the port and the mailbox it fills."""
    mailbox = _Mailbox()
    port = _free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, mailbox
    finally:
        controller.stop()


async def bury_one(queue: JobQueue, key: str) -> int:
    """Make a dead letter the way the worker does; return the dead job's id."""
    async with queue.engine.begin() as conn:
        await queue.enqueue(conn, "invoices", key, ["h1"])
    [job] = await queue.claim("w1", 1)
    failure = Failure("PermanentError", "Amount: not a number")
    await queue.settle("w1", [Settlement(job, "dead", 0.0, failure=failure)])
    return job.id
