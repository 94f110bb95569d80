"""Both sandboxes in process, one runtime routed to them, both connections stored, and a worker.

``world.sync()`` runs a real worker with the built-in flows until the queue is quiet.
User actions go through the sandboxes' own APIs as a person would make them: FreshBooks
through the accounting API with a user's token, Salesforce through the sandbox's UI routes.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.connectors.core import CallRetryPolicy
from freshforce.connectors.salesforce.governor import GovernorConfig
from freshforce.engine import JobQueue, JobRequest, JobStatus, RetryPolicy, Worker, WorkerConfig
from freshforce.flows import builtin_flows
from freshforce.mapping import MapSet, load_maps, write_defaults
from freshforce.runtime import Runtime
from freshforce.sandbox.core import SandboxRuntime
from freshforce.sandbox.freshbooks import DEFAULT_APP, FreshBooksOptions, build_freshbooks
from freshforce.sandbox.router import HostRouter
from freshforce.sandbox.salesforce.build import build_salesforce_sandbox
from freshforce.settings import Settings
from freshforce.store.connections import NewConnection, Tokens, save_connection
from freshforce.store.crypto import new_key

FB_API = "http://fb.test"
SF_INSTANCE = "https://sandbox.my.salesforce.com"
FB_ACCOUNT = "SBX7QK"
REDIRECT = "http://127.0.0.1:8765/callback"


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class World:
    runtime: Runtime
    maps: MapSet
    fb_user: httpx.AsyncClient  # a FreshBooks user's own API client
    fb_admin: httpx.AsyncClient
    sf_admin: httpx.AsyncClient
    config_dir: Path
    tenant: str = "default"
    dead: list[Any] = field(default_factory=list)

    @property
    def engine(self) -> AsyncEngine:
        return self.runtime.engine

    def queue(self) -> JobQueue:
        return self.runtime.queue()

    # -- running the product -------------------------------------------------------------------

    async def enqueue(self, flow: str, *keys: str) -> None:
        queue = self.queue()
        async with self.engine.begin() as db:
            await queue.enqueue_many(db, [JobRequest(flow, k, tenant=self.tenant) for k in keys])

    async def sync(self, *keys: str, flow: str = "clients", within: float = 30.0) -> None:
        """Enqueue ``keys`` and run a worker until no job is pending or running."""
        if keys:
            await self.enqueue(flow, *keys)
        worker = Worker(
            self.queue(),
            builtin_flows(self.runtime, self.maps),
            name=f"test-worker-{random.getrandbits(24):06x}",
            policy=RetryPolicy.zero_wait(),
            rng=random.Random(1),
            config=WorkerConfig(concurrency=2, batch_size=20, poll_interval=0.02),
        )
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        deadline = asyncio.get_running_loop().time() + within
        try:
            while asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.05)
                counts = await self.queue().counts()
                if not counts.get(JobStatus.PENDING) and not counts.get(JobStatus.RUNNING):
                    return
            raise AssertionError(f"the queue did not settle in {within} s: {counts}")
        finally:
            stop.set()
            await task

    # -- FreshBooks as a user ------------------------------------------------------------------

    def _clients(self, client_id: int | None = None) -> str:
        base = f"/accounting/account/{FB_ACCOUNT}/users/clients"
        return base if client_id is None else f"{base}/{client_id}"

    async def fb_create(self, **fields: Any) -> int:
        response = await self.fb_user.post(self._clients(), json={"client": fields})
        assert response.status_code == 200, response.text
        return int(response.json()["response"]["result"]["client"]["id"])

    async def fb_update(self, client_id: int, **fields: Any) -> None:
        response = await self.fb_user.put(self._clients(client_id), json={"client": fields})
        assert response.status_code == 200, response.text

    async def fb_get(self, client_id: int) -> dict[str, Any]:
        response = await self.fb_user.get(self._clients(client_id))
        assert response.status_code == 200, response.text
        return dict(response.json()["response"]["result"]["client"])

    async def fb_clients(self) -> list[dict[str, Any]]:
        response = await self.fb_user.get(self._clients(), params={"per_page": 100})
        return list(response.json()["response"]["result"]["clients"])

    async def fb_action(self, client_id: int, action: str) -> None:
        path = f"/_sandbox/freshbooks/ui/clients/{client_id}/{action}"
        response = await self.fb_admin.post(path)
        assert response.status_code == 200, response.text

    # -- Salesforce as a user ------------------------------------------------------------------

    async def sf_create(self, obj: str, **fields: Any) -> str:
        body = {"object": obj, "records": [{"fields": fields}], "events": True}
        response = await self.sf_admin.post("/_sandbox/salesforce/records", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["ids"][0])

    async def sf_update(self, record_id: str, **fields: Any) -> None:
        body = {"id": record_id, "fields": fields}
        response = await self.sf_admin.post("/_sandbox/salesforce/ui/update", json=body)
        assert response.status_code == 200, response.text

    async def sf_ui(self, action: str, **body: Any) -> dict[str, Any]:
        response = await self.sf_admin.post(f"/_sandbox/salesforce/ui/{action}", json=body)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def soql(self, query: str) -> list[dict[str, Any]]:
        sf = await self.runtime.salesforce("sf-main")
        from freshforce.connectors.salesforce.governor import Priority  # noqa: PLC0415

        return await sf.query(query, priority=Priority.CLIENTS)

    async def advance(self, seconds: float) -> None:
        """Move both sandboxes' clock (one runtime) forward."""
        response = await self.fb_admin.post("/_sandbox/clock/advance", json={"seconds": seconds})
        assert response.status_code == 200, response.text

    async def fault(self, system: str, **rule: Any) -> None:
        admin = self.fb_admin if system == "freshbooks" else self.sf_admin
        response = await admin.post("/_sandbox/faults", json=rule)
        assert response.status_code == 201, response.text

    async def requests(self, system: str, **params: Any) -> list[dict[str, Any]]:
        admin = self.fb_admin if system == "freshbooks" else self.sf_admin
        response = await admin.get("/_sandbox/requests", params=params)
        return list(response.json()["requests"])

    async def clear_requests(self) -> None:
        for admin in (self.fb_admin, self.sf_admin):
            await admin.delete("/_sandbox/requests")


def _settings(database_url: str, sf_client_id: str, sf_secret: str, config_dir: Path) -> Settings:
    return Settings(
        database_url=database_url,
        encryption_keys=[SecretStr(new_key())],
        config_dir=config_dir,
        freshbooks_api_url=FB_API,
        freshbooks_client_id=DEFAULT_APP.client_id,
        freshbooks_client_secret=SecretStr(DEFAULT_APP.client_secret),
        salesforce_login_url=SF_INSTANCE,
        salesforce_client_id=sf_client_id,
        salesforce_client_secret=SecretStr(sf_secret),
        salesforce_redirect_uri=REDIRECT,
    )


@pytest.fixture
async def world(
    database_url: str, store_engine: AsyncEngine, tmp_path: Path
) -> AsyncIterator[World]:
    del store_engine  # migrated by the fixture; the runtime opens its own engine on it
    sandbox_runtime = SandboxRuntime.create(7)
    fb = build_freshbooks(FreshBooksOptions(seed=7), sandbox_runtime)
    sf = build_salesforce_sandbox(sandbox_runtime, seed=7, daily_api_limit=1_000_000)
    fb_transport = httpx.ASGITransport(app=fb.app)
    sf_transport = httpx.ASGITransport(app=sf.app)
    router = HostRouter({"fb.test": fb_transport, "sandbox.my.salesforce.com": sf_transport})
    config_dir = tmp_path / "freshforce"
    write_defaults(config_dir)
    settings = _settings(database_url, sf.client_id, sf.client_secret, config_dir)
    runtime = await Runtime.open(
        settings,
        transport=router,
        call_retry=CallRetryPolicy(attempts=3, base_seconds=0, cap_seconds=0),
        job_retry=RetryPolicy.zero_wait(),
        governor_config=GovernorConfig(reserve=0, step_fraction=0.0),
    )
    fb_admin = httpx.AsyncClient(transport=fb_transport, base_url=FB_API)
    sf_admin = httpx.AsyncClient(transport=sf_transport, base_url=SF_INSTANCE)
    ours = (await fb_admin.post("/_sandbox/tokens", json={})).json()
    theirs = (await fb_admin.post("/_sandbox/tokens", json={})).json()
    fb_tokens = Tokens(
        SecretStr(ours["access_token"]),
        SecretStr(ours["refresh_token"]),
        now() + timedelta(seconds=ours["expires_in"]),
    )
    code = sf.sessions.authorize(
        sf.client_id, REDIRECT, sf.state.admin_user_id, "api refresh_token"
    )
    grant = sf.sessions.exchange_code(sf.client_id, sf.client_secret, code, REDIRECT)
    assert grant.refresh_token is not None
    sf_tokens = Tokens(SecretStr(grant.session.access_token), SecretStr(grant.refresh_token), None)
    async with runtime.engine.begin() as db:
        fb_conn = NewConnection("fb-main", "freshbooks", fb_tokens, remote_account=FB_ACCOUNT)
        await save_connection(db, runtime.cipher, fb_conn, now=now())
        sf_conn = NewConnection(
            "sf-main", "salesforce", sf_tokens, remote_account=sf.state.org_id,
            instance_url=SF_INSTANCE,
        )  # fmt: skip
        await save_connection(db, runtime.cipher, sf_conn, now=now())
    fb_user = httpx.AsyncClient(
        transport=fb_transport,
        base_url=FB_API,
        headers={"Authorization": f"Bearer {theirs['access_token']}"},
    )
    maps = load_maps(config_dir, profile="dev")
    try:
        yield World(runtime, maps, fb_user, fb_admin, sf_admin, config_dir)
    finally:
        for client in (fb_user, fb_admin, sf_admin):
            await client.aclose()
        await runtime.aclose()
        await sandbox_runtime.aclose()
