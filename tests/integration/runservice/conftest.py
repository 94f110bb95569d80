"""Both sandboxes in process, a tenant's two stored connections, and a service to start on them.

The runtime reaches each sandbox's ASGI app by host (FreshBooks at ``fb.test``, Salesforce at
its instance URL); the service's web app listens on a real socket, which the FreshBooks
sandbox's webhook deliveries reach. The flow the worker runs records the jobs it is handed.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.connectors.core import CallRetryPolicy
from freshforce.connectors.salesforce.governor import GovernorConfig
from freshforce.engine import FlowContext, Job, JobFlow
from freshforce.mapping import load_maps
from freshforce.runtime import Runtime
from freshforce.sandbox.core import DeliveryRetryPolicy, SandboxRuntime
from freshforce.sandbox.freshbooks import DEFAULT_APP, FreshBooksOptions, build_freshbooks
from freshforce.sandbox.freshbooks.app import FreshBooksSandbox
from freshforce.sandbox.salesforce.build import SalesforceSandbox, build_salesforce_sandbox
from freshforce.service import Service
from freshforce.settings import Settings
from freshforce.store.connections import NewConnection, Tokens, save_connection
from freshforce.store.crypto import new_key

FB_API = "http://fb.test"
SF_INSTANCE = "https://sandbox.my.salesforce.com"
SF_API = "/services/data/v59.0"
REDIRECT = "http://127.0.0.1:8765/callback"
FB, SF = "fb", "sf"


def now() -> datetime:
    return datetime.now(UTC)


async def eventually(check: Callable[[], Awaitable[bool]], what: str, within: float = 20) -> None:
    """Wait until ``check()`` holds; fail naming ``what`` (a generous bound, not a timing)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class ByHost(httpx.AsyncBaseTransport):
    """Hands each request to the sandbox app that owns its host."""

    def __init__(self, routes: dict[str, httpx.AsyncBaseTransport]) -> None:
        self.routes = routes

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = self.routes.get(request.url.host)
        if transport is None:
            raise httpx.ConnectError(f"no sandbox at {request.url.host}", request=request)
        return await transport.handle_async_request(request)


@dataclass
class Recorder:
    """The test flow's handler: records each job; waits on ``hold`` while it is set."""

    jobs: list[Job] = field(default_factory=list)
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    hold: asyncio.Event | None = None

    async def __call__(self, job: Job, ctx: FlowContext) -> None:
        del ctx
        self.jobs.append(job)
        self.entered.set()
        if self.hold is not None:
            await self.hold.wait()

    def sources(self, key: str) -> set[str]:
        """Return where the jobs of ``key`` came from (webhook, poll, cdc)."""
        return {
            str(hint["source"])
            for job in self.jobs
            if job.key == key
            for hint in job.hints
            if isinstance(hint, dict) and "source" in hint
        }


@dataclass
class World:
    fb: FreshBooksSandbox
    sf: SalesforceSandbox
    sf_runtime: SandboxRuntime
    database_url: str
    key: str
    transport: ByHost
    fb_admin: httpx.AsyncClient
    sf_user: httpx.AsyncClient
    runtimes: list[Runtime] = field(default_factory=list)

    def settings(self, **values: Any) -> Settings:
        base: dict[str, Any] = {
            "database_url": self.database_url,
            "encryption_keys": [SecretStr(self.key)],
            "freshbooks_api_url": FB_API,
            "freshbooks_client_id": DEFAULT_APP.client_id,
            "freshbooks_client_secret": SecretStr(DEFAULT_APP.client_secret),
            "freshbooks_redirect_uri": REDIRECT,
            "salesforce_login_url": SF_INSTANCE,
            "salesforce_client_id": self.sf.client_id,
            "salesforce_client_secret": SecretStr(self.sf.client_secret),
            "salesforce_redirect_uri": REDIRECT,
            "poll_interval_seconds": 3600,
            "cdc": False,
            "worker_poll_interval": 0.05,
            "worker_shutdown_timeout": 30,
        }
        return Settings(**(base | values))

    async def runtime(self, **values: Any) -> Runtime:
        opened = await Runtime.open(
            self.settings(**values),
            transport=self.transport,
            call_retry=CallRetryPolicy.immediate(),
            governor_config=GovernorConfig(reserve=0, step_fraction=0.0),
        )
        self.runtimes.append(opened)
        return opened

    async def service(
        self, recorder: Recorder, *, work: bool = True, webhooks: bool = False, **values: Any
    ) -> tuple[Service, socket.socket]:
        """A service on a socket bound here (its URL is known before it starts).

        With ``webhooks``, ``public_url`` is that socket's URL, so callbacks get registered.
        """
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        if webhooks:
            values["public_url"] = f"http://127.0.0.1:{sock.getsockname()[1]}"
        runtime = await self.runtime(**values)
        flows = {"clients": JobFlow("clients", recorder)}
        return Service(runtime, load_maps(None), flows, work=work, sock=sock), sock

    async def fb_create_client(self, email: str) -> str:
        """A client created in FreshBooks by a person."""
        runtime = self.runtimes[0] if self.runtimes else await self.runtime()
        client = await runtime.freshbooks(FB)
        from freshforce.connectors.freshbooks.client import RESOURCES  # noqa: PLC0415

        made = await client.create(RESOURCES["clients"], {"email": email, "organization": email})
        return str(made.id)

    async def sf_create_account(self, name: str) -> str:
        """An Account created in Salesforce by a person (not through freshforce)."""
        response = await self.sf_user.post(f"{SF_API}/sobjects/Account/", json={"Name": name})
        assert response.status_code == 201, response.text
        return str(response.json()["id"])


async def _connect(world: World, engine: AsyncEngine) -> None:
    runtime = await world.runtime()
    minted = (await world.fb_admin.post("/_sandbox/tokens", json={})).json()
    fb_tokens = Tokens(
        SecretStr(minted["access_token"]),
        SecretStr(minted["refresh_token"]),
        now() + timedelta(seconds=minted["expires_in"]),
    )
    sessions = world.sf.sessions
    code = sessions.authorize(
        world.sf.client_id, REDIRECT, world.sf.state.admin_user_id, "api refresh_token"
    )
    grant = sessions.exchange_code(world.sf.client_id, world.sf.client_secret, code, REDIRECT)
    assert grant.refresh_token is not None
    sf_tokens = Tokens(SecretStr(grant.session.access_token), SecretStr(grant.refresh_token), None)
    async with engine.begin() as db:
        await save_connection(
            db,
            runtime.cipher,
            NewConnection(FB, "freshbooks", fb_tokens, remote_account="SBX7QK"),
            now=now(),
        )
        await save_connection(
            db,
            runtime.cipher,
            NewConnection(
                SF,
                "salesforce",
                sf_tokens,
                remote_account=world.sf.state.org_id,
                instance_url=SF_INSTANCE,
            ),
            now=now(),
        )


@pytest.fixture
async def world(database_url: str, store_engine: AsyncEngine) -> AsyncIterator[World]:
    fb_runtime = SandboxRuntime.create(
        7, retry=DeliveryRetryPolicy(attempts=3, backoff_seconds=0.05)
    )
    fb = build_freshbooks(FreshBooksOptions(seed=7), fb_runtime)
    sf_runtime = SandboxRuntime.create(seed=7)
    sf = build_salesforce_sandbox(sf_runtime, seed=7, daily_api_limit=100_000)
    fb_app, sf_app = httpx.ASGITransport(app=fb.app), httpx.ASGITransport(app=sf.app)
    transport = ByHost({"fb.test": fb_app, "sandbox.my.salesforce.com": sf_app})
    user_token = sf.sessions.mint(sf.state.admin_user_id).access_token
    async with (
        httpx.AsyncClient(transport=fb_app, base_url=FB_API) as fb_admin,
        httpx.AsyncClient(
            transport=sf_app,
            base_url=SF_INSTANCE,
            headers={"Authorization": f"Bearer {user_token}"},
        ) as sf_user,
    ):
        world = World(fb, sf, sf_runtime, database_url, new_key(), transport, fb_admin, sf_user)
        await _connect(world, store_engine)
        yield world
    for runtime in world.runtimes:
        await runtime.aclose()
    await fb_runtime.aclose()
    await sf_runtime.aclose()
