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

from freshforce.connectors.core import ApiClient, CallCounter, CallRetryPolicy
from freshforce.connectors.freshbooks.client import FreshBooksClient
from freshforce.connectors.oauth import OAuthProvider, TokenSource
from freshforce.connectors.providers import provider_for
from freshforce.runtime import Runtime
from freshforce.sandbox.core import DeliveryRetryPolicy as DeliveryRetry
from freshforce.sandbox.core import SandboxRuntime
from freshforce.sandbox.freshbooks import (
    DEFAULT_APP,
    FreshBooksOptions,
    FreshBooksSandbox,
    build_freshbooks,
)
from freshforce.settings import Settings
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

from .live_web import LiveWeb

CONNECTION = "fb-main"
API = "http://fb.test"


def now() -> datetime:
    return datetime.now(UTC)


def provider(base_url: str = API) -> OAuthProvider:
    """The sandbox app's provider, as the runtime builds it from ``settings``."""
    return provider_for("freshbooks", settings("sqlite://", new_key(), base_url))


@dataclass
class Sleeps:
    waits: list[float]

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def settings(database_url: str, key: str, api: str = API) -> Settings:
    """The settings of a process whose FreshBooks app is the sandbox's."""
    return Settings(
        database_url=database_url,
        encryption_keys=[SecretStr(key)],
        freshbooks_api_url=api,
        freshbooks_client_id=DEFAULT_APP.client_id,
        freshbooks_client_secret=SecretStr(DEFAULT_APP.client_secret),
        freshbooks_redirect_uri="http://127.0.0.1:8765/callback",
    )


@dataclass
class FbWorld:
    sandbox: FreshBooksSandbox
    admin: httpx.AsyncClient
    runtime: Runtime
    transport: httpx.AsyncBaseTransport
    sleeps: Sleeps
    others: list[Runtime]

    @property
    def engine(self) -> AsyncEngine:
        return self.runtime.engine

    @property
    def cipher(self) -> TokenCipher:
        return self.runtime.cipher

    @property
    def counter(self) -> CallCounter:
        return self.runtime.counter

    async def fault(self, **rule: Any) -> None:
        response = await self.admin.post("/_sandbox/faults", json=rule)
        assert response.status_code == 201, response.text

    async def requests(self, path: str) -> list[dict[str, Any]]:
        response = await self.admin.get("/_sandbox/requests", params={"path": path})
        return list(response.json()["requests"])

    def token_source(self) -> TokenSource:
        return self.runtime.token_source(CONNECTION, "freshbooks")

    async def client(self) -> FreshBooksClient:
        return await self.runtime.freshbooks(CONNECTION)

    def sandbox_clock(self) -> Callable[[], datetime]:
        """The sandbox's clock: advancing it moves the token source's time too."""
        return self.sandbox.runtime.clock.now

    async def runtime_on(self, clock: Callable[[], datetime]) -> Runtime:
        """A second process on the same store whose clock is ``clock``."""
        other = await open_runtime(self.runtime.settings, self.transport, self.sleeps, clock)
        self.others.append(other)
        return other

    async def api(self) -> ApiClient:
        return (await self.client()).api

    async def other_process(self) -> Runtime:
        """A second process on the same store: its own token source, nothing shared."""
        other = await open_runtime(self.runtime.settings, self.transport, self.sleeps)
        self.others.append(other)
        return other


async def open_runtime(
    settings: Settings,
    transport: httpx.AsyncBaseTransport,
    sleeps: Sleeps,
    clock: Callable[[], datetime] = now,
) -> Runtime:
    return await Runtime.open(
        settings,
        clock=clock,
        transport=transport,
        sleep=sleeps,
        call_retry=CallRetryPolicy.immediate(),
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
async def fb_world(database_url: str, store_engine: AsyncEngine) -> AsyncIterator[FbWorld]:
    del store_engine  # migrated by the fixture; the runtime opens its own engine on it
    sandbox_runtime = SandboxRuntime.create(
        7, retry=DeliveryRetry(attempts=2, backoff_seconds=0.01)
    )
    sandbox = build_freshbooks(FreshBooksOptions(seed=7), sandbox_runtime)
    transport = httpx.ASGITransport(app=sandbox.app)
    sleeps = Sleeps([])
    runtime = await open_runtime(settings(database_url, new_key()), transport, sleeps)
    async with httpx.AsyncClient(transport=transport, base_url=API) as admin:
        world = FbWorld(sandbox, admin, runtime, transport, sleeps, [])
        await store_minted(world)
        yield world
    for other in world.others:
        await other.aclose()
    await runtime.aclose()
    await sandbox_runtime.aclose()


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


@pytest.fixture
async def live_web(fb_world: FbWorld) -> AsyncIterator[LiveWeb]:
    web = LiveWeb(fb_world)
    yield web
    await web.stop()


@pytest.fixture
async def live_url(live_web: LiveWeb) -> str:
    await live_web.start()
    return live_web.url
