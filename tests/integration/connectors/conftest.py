"""Fixtures for connector tests: an in-process FreshBooks sandbox and a stored connection."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.connectors.core import ApiClient, CallCounter, RetryPolicy, build_http_client
from freshforce.connectors.freshbooks import map_freshbooks_error
from freshforce.connectors.freshbooks.client import FreshBooksClient
from freshforce.connectors.oauth import BearerAuth, OAuthProvider, TokenSource
from freshforce.sandbox.core import RetryPolicy as DeliveryRetry
from freshforce.sandbox.core import SandboxRuntime
from freshforce.sandbox.freshbooks import (
    DEFAULT_APP,
    FreshBooksOptions,
    FreshBooksSandbox,
    build_freshbooks,
)
from freshforce.store.connections import NewConnection, Tokens, save_connection
from freshforce.store.crypto import TokenCipher, new_key

CONNECTION = "fb-main"
API = "http://fb.test"


def now() -> datetime:
    return datetime.now(UTC)


def provider(base_url: str = API) -> OAuthProvider:
    return OAuthProvider(
        system="freshbooks",
        authorize_url=f"{base_url}/oauth/authorize",
        token_url=f"{base_url}/auth/oauth/token",
        client_id=DEFAULT_APP.client_id,
        client_secret=SecretStr(DEFAULT_APP.client_secret),
        redirect_uri="http://127.0.0.1:8765/callback",
        refresh_sends_redirect_uri=True,
    )


@dataclass
class Sleeps:
    waits: list[float]

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@dataclass
class FbWorld:
    sandbox: FreshBooksSandbox
    admin: httpx.AsyncClient
    engine: AsyncEngine
    cipher: TokenCipher
    transport: httpx.AsyncBaseTransport
    counter: CallCounter
    sleeps: Sleeps

    async def fault(self, **rule: Any) -> None:
        response = await self.admin.post("/_sandbox/faults", json=rule)
        assert response.status_code == 201, response.text

    async def requests(self, path: str) -> list[dict[str, Any]]:
        response = await self.admin.get("/_sandbox/requests", params={"path": path})
        return list(response.json()["requests"])

    def token_source(self) -> TokenSource:
        return TokenSource(
            self.engine,
            self.cipher,
            CONNECTION,
            provider(),
            clock=now,
            transport=self.transport,
        )

    def client(self) -> FreshBooksClient:
        return FreshBooksClient(self.api(), "SBX7QK")

    def api(self, source: TokenSource | None = None, attempts: int = 4) -> ApiClient:
        http = build_http_client(
            API, transport=self.transport, auth=BearerAuth(source or self.token_source())
        )
        return ApiClient(
            http,
            system="freshbooks",
            connection_id=CONNECTION,
            map_error=map_freshbooks_error,
            retry=RetryPolicy.immediate(attempts),
            counter=self.counter,
            sleep=self.sleeps,
        )


async def store_minted(world: FbWorld, expires_in: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {} if expires_in is None else {"expires_in": expires_in}
    minted = (await world.admin.post("/_sandbox/tokens", json=body)).json()
    tokens = Tokens(
        SecretStr(minted["access_token"]),
        SecretStr(minted["refresh_token"]),
        now() + timedelta(seconds=minted["expires_in"]),
    )
    new = NewConnection(CONNECTION, "freshbooks", tokens, remote_account="SBX7QK")
    async with world.engine.begin() as db:
        await save_connection(db, world.cipher, new, now=now())
    return dict(minted)


@pytest.fixture
async def fb_world(store_engine: AsyncEngine) -> AsyncIterator[FbWorld]:
    runtime = SandboxRuntime.create(7, retry=DeliveryRetry(attempts=2, backoff_seconds=0.01))
    sandbox = build_freshbooks(FreshBooksOptions(seed=7), runtime)
    transport = httpx.ASGITransport(app=sandbox.app)
    async with httpx.AsyncClient(transport=transport, base_url=API) as admin:
        world = FbWorld(
            sandbox,
            admin,
            store_engine,
            TokenCipher([SecretStr(new_key())]),
            transport,
            CallCounter(),
            Sleeps([]),
        )
        await store_minted(world)
        yield world
    await runtime.aclose()


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[Received]]]:
    """A real HTTP endpoint on 127.0.0.1 that records every POST (the webhook intake's seat)."""
    got: list[Received] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            got.append(Received(body, dict(self.headers.items())))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", got
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
