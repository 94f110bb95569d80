"""Fixtures for connector tests: an in-process FreshBooks sandbox and a stored connection."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
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
from freshforce.store.connections import (
    Connection,
    ConnectionStatus,
    NewConnection,
    Tokens,
    load_connection,
    save_connection,
)
from freshforce.store.crypto import TokenCipher, new_key
from freshforce.store.engine import create_engine

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

    def token_source(self, clock: Callable[[], datetime] = now) -> TokenSource:
        return TokenSource(
            self.engine,
            self.cipher,
            CONNECTION,
            provider(),
            clock=clock,
            transport=self.transport,
        )

    def sandbox_clock(self) -> Callable[[], datetime]:
        """The sandbox's clock: advancing it moves the token source's time too."""
        return self.sandbox.runtime.clock.now

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


FRESHFORCE = str(Path(sys.executable).parent / "freshforce")
Browser = Callable[[httpx.AsyncClient, str], Awaitable[httpx.Response]]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def run_connect(
    system: str,
    settings: dict[str, str],
    tmp_path: Path,
    browse: Browser,
    *,
    database_url: str | None = None,
    key: str | None = None,
) -> tuple[str, Connection]:
    """Run the command, play the user's browser, return its output and the stored connection."""
    key = key or new_key()
    database_url = database_url or f"sqlite+aiosqlite:///{tmp_path / 'ff.db'}"
    env = {
        **os.environ,
        "FRESHFORCE_DATA_DIR": str(tmp_path),
        "FRESHFORCE_DATABASE_URL": database_url,
        "FRESHFORCE_ENCRYPTION_KEYS": key,
        f"FRESHFORCE_{system.upper()}_REDIRECT_URI": f"http://127.0.0.1:{free_port()}/callback",
        **settings,
    }
    command = [FRESHFORCE, "connect", system, "--no-browser", "--timeout", "60"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)  # noqa: ASYNC220
    try:
        assert proc.stdout is not None
        url = ""
        while not url.startswith("http"):
            url = (await asyncio.to_thread(proc.stdout.readline)).strip()
            assert url or proc.poll() is None, "connect exited before printing the URL"
        assert "state=" in url
        async with httpx.AsyncClient(follow_redirects=True) as browser:
            landed = await browse(browser, url)
        assert landed.status_code == 200
        assert "Connected." in landed.text
        out, _ = await asyncio.to_thread(proc.communicate, timeout=60)
        assert proc.returncode == 0, out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    engine = create_engine(database_url)
    async with engine.connect() as db:
        stored = await load_connection(db, TokenCipher([SecretStr(key)]), system)
    await engine.dispose()
    assert stored is not None
    assert stored.status is ConnectionStatus.ACTIVE
    assert stored.tokens.access_token is not None
    assert stored.tokens.refresh_token is not None
    assert stored.tokens.access_token.get_secret_value() not in out
    return out, stored
