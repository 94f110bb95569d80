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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.embedded import FB_ACCOUNT, open_embedded
from freshforce.engine import JobQueue, JobRequest, JobStatus, RetryPolicy, Worker, WorkerConfig
from freshforce.flows import builtin_flows
from freshforce.mapping import MapSet, load_maps, write_defaults
from freshforce.runtime import Runtime


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


@pytest.fixture
async def world(
    database_url: str, store_engine: AsyncEngine, tmp_path: Path
) -> AsyncIterator[World]:
    del store_engine  # migrated by the fixture; the runtime opens its own engine on it
    config_dir = tmp_path / "freshforce"
    write_defaults(config_dir)
    embedded = await open_embedded(database_url, config_dir)
    maps = load_maps(config_dir, profile="dev")
    try:
        yield World(
            embedded.runtime, maps, embedded.fb_user, embedded.fb_admin, embedded.sf_admin,
            config_dir,
        )  # fmt: skip
    finally:
        await embedded.aclose()
