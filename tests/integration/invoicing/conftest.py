"""Both sandboxes in process, a tenant's two stored connections, and the real worker.

One transport routes by host: the FreshBooks sandbox answers ``http://fb.test`` and the
Salesforce sandbox its instance URL, so a ``Runtime`` built from plain settings reaches both.
Flows run through ``runtime.worker`` until the queue is idle.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.connectors.core import CallRetryPolicy
from freshforce.connectors.freshbooks import FreshBooksClient
from freshforce.connectors.salesforce import GovernorConfig, Priority, SalesforceClient
from freshforce.engine import Flow, Job, JobStatus, RetryPolicy
from freshforce.mapping import MapSet, load_maps
from freshforce.runtime import Runtime
from freshforce.sandbox.core import DeliveryRetryPolicy, SandboxRuntime
from freshforce.sandbox.freshbooks import DEFAULT_APP, FreshBooksOptions, build_freshbooks
from freshforce.sandbox.router import HostRouter
from freshforce.sandbox.salesforce.build import SalesforceSandbox, build_salesforce_sandbox
from freshforce.settings import Settings
from freshforce.store.connections import NewConnection, Tokens, save_connection
from freshforce.store.crypto import new_key
from freshforce.store.schema import jobs

FB_API = "http://fb.test"
SF_INSTANCE = "https://sandbox.my.salesforce.com"
REDIRECT = "http://127.0.0.1:8765/callback"
TENANT = "default"


@dataclass
class Sleeps:
    waits: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@dataclass
class FlowWorld:
    """The two sandboxes, admin clients on both, and freshforce's runtime on the test store."""

    runtime: Runtime
    fb_admin: httpx.AsyncClient
    sf_admin: httpx.AsyncClient
    salesforce_sandbox: SalesforceSandbox
    config_dir: Path
    freshbooks: FreshBooksClient = field(init=False)
    salesforce: SalesforceClient = field(init=False)

    async def open_clients(self) -> None:
        pair = await self.runtime.pair(TENANT)
        self.freshbooks, self.salesforce = pair.freshbooks, pair.salesforce

    @property
    def engine(self) -> AsyncEngine:
        return self.runtime.engine

    def maps(self, **values: Any) -> MapSet:
        """The shipped maps, with ``values`` laid over the shipped ``values.yaml``."""
        if values:
            text = yaml.safe_dump({"values": values})
            (self.config_dir / "values.yaml").write_text(text, encoding="utf-8")
        return load_maps(self.config_dir)

    async def fb_fault(self, **rule: Any) -> None:
        response = await self.fb_admin.post("/_sandbox/faults", json=rule)
        assert response.status_code == 201, response.text

    async def fb_requests(self, path: str) -> list[dict[str, Any]]:
        response = await self.fb_admin.get("/_sandbox/requests", params={"path": path})
        return list(response.json()["requests"])

    async def fb_pay(self, invoice_id: int, amount: str, **extra: Any) -> dict[str, Any]:
        """Record a payment as a person in FreshBooks (negative: a refund)."""
        path = f"/_sandbox/freshbooks/ui/invoices/{invoice_id}/payments"
        response = await self.fb_admin.post(path, json={"amount": amount, **extra})
        assert response.status_code == 201, response.text
        return dict(response.json()["payment"])

    async def enqueue(self, flow: str, *keys: str) -> list[int]:
        queue = self.runtime.queue()
        async with self.engine.begin() as db:
            return [await queue.enqueue(db, flow, key, tenant=TENANT) for key in keys]

    async def work(self, flows: Sequence[Flow], limit: float = 30.0) -> None:
        """Run the real worker with ``flows`` until no job waits or runs."""
        worker = self.runtime.worker({f.name: f for f in flows})
        queue = self.runtime.queue()
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        try:
            async with asyncio.timeout(limit):
                while True:
                    counts = await queue.counts()
                    if counts[JobStatus.PENDING] == counts[JobStatus.RUNNING] == 0:
                        break
                    await asyncio.sleep(0.02)
        finally:
            stop.set()
            await task

    async def jobs(self) -> list[Job]:
        return list(await self.runtime.queue().jobs())

    async def statuses(self) -> dict[str, str]:
        async with self.engine.connect() as db:
            rows = (await db.execute(jobs.select().order_by(jobs.c.id))).mappings().all()
        return {row["key"]: row["status"] for row in rows}

    async def opportunity(self, opportunity_id: str) -> dict[str, Any]:
        fields = [
            "Name", "FreshBooks_Invoice_Id__c", "FreshBooks_Invoice_Number__c",
            "FreshBooks_Invoice_Url__c", "FreshBooks_Payment_Status__c",
            "FreshBooks_Amount_Paid__c", "FreshBooks_Balance__c",
            "FreshBooks_Last_Payment_Date__c",
        ]  # fmt: skip
        found = await self.salesforce.get_by_ids(
            "Opportunity", [opportunity_id], fields, priority=Priority.CLIENTS
        )
        return found[opportunity_id]


def _settings(database_url: str, config_dir: Path, sandbox: SalesforceSandbox) -> Settings:
    return Settings(
        database_url=database_url,
        encryption_keys=[SecretStr(new_key())],
        config_dir=config_dir,
        freshbooks_api_url=FB_API,
        freshbooks_client_id=DEFAULT_APP.client_id,
        freshbooks_client_secret=SecretStr(DEFAULT_APP.client_secret),
        freshbooks_redirect_uri=REDIRECT,
        salesforce_login_url=SF_INSTANCE,
        salesforce_client_id=sandbox.client_id,
        salesforce_client_secret=SecretStr(sandbox.client_secret),
        salesforce_redirect_uri=REDIRECT,
        worker_poll_interval=0.02,
        worker_batch_size=20,
    )


async def _connect(world: FlowWorld) -> None:
    now = datetime.now(UTC)
    minted = (await world.fb_admin.post("/_sandbox/tokens", json={})).json()
    fb_tokens = Tokens(
        SecretStr(minted["access_token"]),
        SecretStr(minted["refresh_token"]),
        now + timedelta(seconds=minted["expires_in"]),
    )
    sandbox = world.salesforce_sandbox
    code = sandbox.sessions.authorize(
        sandbox.client_id, REDIRECT, sandbox.state.admin_user_id, "api refresh_token"
    )
    grant = sandbox.sessions.exchange_code(sandbox.client_id, sandbox.client_secret, code, REDIRECT)
    assert grant.refresh_token is not None
    sf_tokens = Tokens(SecretStr(grant.session.access_token), SecretStr(grant.refresh_token), None)
    runtime = world.runtime
    async with runtime.engine.begin() as db:
        fb = NewConnection("fb-main", "freshbooks", fb_tokens, TENANT, remote_account="SBX7QK")
        await save_connection(db, runtime.cipher, fb, now=now)
        sf = NewConnection(
            "sf-main",
            "salesforce",
            sf_tokens,
            TENANT,
            remote_account=sandbox.state.org_id,
            instance_url=SF_INSTANCE,
        )
        await save_connection(db, runtime.cipher, sf, now=now)


@pytest.fixture
async def world(
    database_url: str, store_engine: AsyncEngine, tmp_path: Path
) -> AsyncIterator[FlowWorld]:
    del store_engine  # migrated; the runtime opens its own engine on it
    fb_runtime = SandboxRuntime.create(7, retry=DeliveryRetryPolicy(attempts=1))
    sf_runtime = SandboxRuntime.create(seed=7)
    fb_sandbox = build_freshbooks(FreshBooksOptions(seed=7), fb_runtime)
    sf_sandbox = build_salesforce_sandbox(sf_runtime, seed=7, daily_api_limit=100_000)
    fb_transport = httpx.ASGITransport(app=fb_sandbox.app)
    sf_transport = httpx.ASGITransport(app=sf_sandbox.app)
    router = HostRouter(
        {httpx.URL(FB_API).host: fb_transport, httpx.URL(SF_INSTANCE).host: sf_transport}
    )
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    runtime = await Runtime.open(
        _settings(database_url, config_dir, sf_sandbox),
        transport=router,
        sleep=Sleeps(),
        call_retry=CallRetryPolicy.immediate(),
        job_retry=RetryPolicy.zero_wait(),
        governor_config=GovernorConfig(reserve=0, step_fraction=0.0),
    )
    async with (
        httpx.AsyncClient(transport=fb_transport, base_url=FB_API) as fb_admin,
        httpx.AsyncClient(transport=sf_transport, base_url=SF_INSTANCE) as sf_admin,
    ):
        found = FlowWorld(runtime, fb_admin, sf_admin, sf_sandbox, config_dir)
        await _connect(found)
        await found.open_clients()
        yield found
    await runtime.aclose()
    await fb_runtime.aclose()
    await sf_runtime.aclose()
