"""Fixtures for the sandbox tests: a real webhook receiver, an in-process FreshBooks sandbox."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from freshforce.sandbox.core import DeliveryRetryPolicy, SandboxRuntime
from freshforce.sandbox.freshbooks import FreshBooksOptions, FreshBooksSandbox, build_freshbooks


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A tiny HTTP server that records every POST and answers with scripted statuses."""

    url: str
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in order, then 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_status(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if self.statuses else 200

    def bodies(self) -> list[bytes]:
        with self.lock:
            return [r.body for r in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            rec = state[0]
            with rec.lock:
                rec.received.append(Received(self.path, dict(self.headers.items()), body))
            status = rec.next_status()
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.append(Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hook"))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@dataclass
class FreshBooks:
    """An in-process FreshBooks sandbox reached through its HTTP surface only."""

    http: httpx.AsyncClient
    token: str
    account: str = "SBX7QK"

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    def url(self, path: str) -> str:
        return f"/accounting/account/{self.account}/{path}"

    async def create(self, path: str, singular: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.http.post(self.url(path), json={singular: body}, headers=self.auth())
        assert response.status_code == 200, response.text
        return response.json()["response"]["result"][singular]

    async def update(self, path: str, singular: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.http.put(self.url(path), json={singular: body}, headers=self.auth())
        assert response.status_code == 200, response.text
        return response.json()["response"]["result"][singular]

    async def get(self, path: str, **params: Any) -> dict[str, Any]:
        response = await self.http.get(self.url(path), params=params, headers=self.auth())
        assert response.status_code == 200, response.text
        return response.json()["response"]["result"]


def build_app(**options: Any) -> FreshBooksSandbox:
    runtime = SandboxRuntime.create(
        options.get("seed", 42), retry=DeliveryRetryPolicy(attempts=4, backoff_seconds=0.02)
    )
    return build_freshbooks(FreshBooksOptions(**options), runtime)


@pytest.fixture
async def fb_app() -> AsyncIterator[FreshBooksSandbox]:
    built = build_app()
    yield built
    await built.runtime.aclose()


@pytest.fixture
async def fb(fb_app: FreshBooksSandbox) -> AsyncIterator[FreshBooks]:
    transport = httpx.ASGITransport(app=fb_app.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://fb.test") as http:
        minted = await http.post("/_sandbox/tokens", json={})
        yield FreshBooks(http, minted.json()["access_token"])
