"""Per-tenant mapping directories: two tenants, each with its own maps, write different fields.

Both tenants' FreshBooks accounts and Salesforce orgs live in one multi-account sandbox of each
kind (in process, over ASGI); one worker runs the built-in flows, which load
``<config>/tenants/<tenant>/`` over the shared maps.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from freshforce.cli import app
from freshforce.connectors.core import CallRetryPolicy
from freshforce.connectors.salesforce.governor import GovernorConfig
from freshforce.engine import (
    JobQueue,
    JobRequest,
    JobStatus,
    RetryPolicy,
    Worker,
    WorkerConfig,
)
from freshforce.engine.tenant_flow import TenantFlows
from freshforce.flows import builtin_flows
from freshforce.mapping import MappingConfigError, load_maps, write_defaults
from freshforce.mapping.tenants import load_tenant_maps
from freshforce.runtime import Runtime
from freshforce.sandbox.core import SandboxRuntime
from freshforce.sandbox.freshbooks import DEFAULT_APP, FreshBooksOptions, build_freshbooks
from freshforce.sandbox.multi import FreshBooksAccounts, SalesforceOrgs, account_owner, org_username
from freshforce.sandbox.router import HostRouter
from freshforce.sandbox.salesforce.build import build_salesforce_sandbox
from freshforce.settings import Settings
from freshforce.store.connections import NewConnection, Tokens, save_connection
from freshforce.store.crypto import new_key

TENANTS = ("alpha", "beta")  # beta has its own clients.yaml: bus_phone -> Account.Fax
REDIRECT = "http://127.0.0.1:9/callback"


def config_with_beta_maps(tmp_path: Path) -> Path:
    config = tmp_path / "freshforce"
    write_defaults(config)
    beta = config / "tenants" / "beta"
    beta.mkdir(parents=True)
    shared = (config / "clients.yaml").read_text()
    assert "salesforce: Account.Phone\n" in shared
    (beta / "clients.yaml").write_text(
        shared.replace("salesforce: Account.Phone\n", "salesforce: Account.Fax\n")
    )
    return config


async def run_worker(queue: JobQueue, flows: dict[str, Any]) -> dict[JobStatus, int]:
    """Run a worker until nothing is pending or running; return the queue's counts."""
    worker = Worker(
        queue,
        flows,
        name="tenant-maps",
        policy=RetryPolicy.zero_wait(),
        rng=random.Random(1),
        config=WorkerConfig(concurrency=2, batch_size=20, poll_interval=0.02),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        for _ in range(600):
            await asyncio.sleep(0.05)
            counts = await queue.counts()
            if not counts.get(JobStatus.PENDING) and not counts.get(JobStatus.RUNNING):
                break
    finally:
        stop.set()
        await task
    return dict(counts)


async def test_two_tenants_with_their_own_maps_write_different_fields(
    database_url: str, store_engine: AsyncEngine, tmp_path: Path
) -> None:
    del store_engine  # migrated; the runtime opens its own engine on it
    config = config_with_beta_maps(tmp_path)
    fb = FreshBooksAccounts(
        [build_freshbooks(FreshBooksOptions(seed=3 + n, owner=account_owner(n))) for n in (0, 1)]
    )
    sf = SalesforceOrgs(
        [
            build_salesforce_sandbox(
                SandboxRuntime.create(seed=3 + n),
                seed=3 + n,
                org_number=n + 1,
                username=org_username(n),
                daily_api_limit=1_000_000,
            )
            for n in (0, 1)
        ]
    )
    fb_http, sf_http = httpx.ASGITransport(app=fb), httpx.ASGITransport(app=sf)
    runtime = await Runtime.open(
        Settings(
            database_url=database_url,
            encryption_keys=[SecretStr(new_key())],
            config_dir=config,
            freshbooks_api_url="http://fb.test",
            freshbooks_client_id=DEFAULT_APP.client_id,
            freshbooks_client_secret=SecretStr(DEFAULT_APP.client_secret),
            salesforce_login_url="https://sf.test",
            salesforce_client_id="freshforce-sandbox",
            salesforce_client_secret=SecretStr("sandbox-secret"),
            salesforce_redirect_uri=REDIRECT,
        ),
        transport=HostRouter({"fb.test": fb_http, "sf.test": sf_http}),
        call_retry=CallRetryPolicy.immediate(),
        job_retry=RetryPolicy.zero_wait(),
        governor_config=GovernorConfig(reserve=0, step_fraction=0.0),
    )
    made: dict[str, int] = {}
    try:
        async with (
            httpx.AsyncClient(transport=fb_http, base_url="http://fb.test") as fb_api,
            httpx.AsyncClient(transport=sf_http, base_url="https://sf.test") as sf_api,
        ):
            for n, tenant in enumerate(TENANTS):
                ours = (await fb_api.post(f"/_sandbox/accounts/{n}/tokens", json={})).json()
                theirs = (await fb_api.post(f"/_sandbox/accounts/{n}/tokens", json={})).json()
                granted = await sf_api.post(
                    "/services/oauth2/token",
                    data={
                        "grant_type": "password",
                        "client_id": "freshforce-sandbox",
                        "client_secret": "sandbox-secret",
                        "username": org_username(n),
                        "password": "sandbox-password",
                    },
                )
                instance = granted.json()["instance_url"]
                assert instance.endswith("/orgs/1") == (n == 1)
                now = datetime.now(UTC)
                fb_tokens = Tokens(
                    SecretStr(ours["access_token"]),
                    SecretStr(ours["refresh_token"]),
                    now + timedelta(hours=1),
                )
                sf_tokens = Tokens(SecretStr(granted.json()["access_token"]), None, None)
                account = account_owner(n).account_id
                async with runtime.engine.begin() as db:
                    for conn in (
                        NewConnection(f"fb-{tenant}", "freshbooks", fb_tokens, tenant, account),
                        NewConnection(
                            f"sf-{tenant}",
                            "salesforce",
                            sf_tokens,
                            tenant,
                            remote_account=sf.orgs[n].state.org_id,
                            instance_url=instance,
                        ),
                    ):
                        await save_connection(db, runtime.cipher, conn, now=now)
                created = await fb_api.post(
                    f"/accounting/account/{account}/users/clients",
                    json={"client": {"organization": "Acme", "bus_phone": "555-0100"}},
                    headers={"Authorization": f"Bearer {theirs['access_token']}"},
                )
                assert created.status_code == 200, created.text
                made[tenant] = int(created.json()["response"]["result"]["client"]["id"])
        assert made["alpha"] == made["beta"]  # the same client id in both accounts

        flows = builtin_flows(runtime, load_maps(config, profile="dev"))
        assert isinstance(flows["clients"], TenantFlows)
        assert set(flows["clients"].by_tenant) == {"beta"}
        queue = runtime.queue()
        async with runtime.engine.begin() as db:
            await queue.enqueue_many(
                db,
                [JobRequest("clients", f"freshbooks/client/{made[t]}", tenant=t) for t in TENANTS],
            )
        counts = await run_worker(queue, flows)
        assert counts.get(JobStatus.DEAD, 0) == 0, counts
    finally:
        await runtime.aclose()
        await fb.aclose()
    alpha = [r for r in sf.orgs[0].state.records("Account") if r.get("Name") == "Acme"]
    beta = [r for r in sf.orgs[1].state.records("Account") if r.get("Name") == "Acme"]
    assert [(r.get("Phone"), r.get("Fax")) for r in alpha] == [("555-0100", None)]
    assert [(r.get("Phone"), r.get("Fax")) for r in beta] == [(None, "555-0100")]


def test_a_broken_tenant_directory_names_its_file(tmp_path: Path) -> None:
    config = config_with_beta_maps(tmp_path)
    (config / "tenants" / "beta" / "clients.yaml").write_text("flow: clients\nrules: 7\n")
    with pytest.raises(MappingConfigError) as raised:
        load_tenant_maps(config)
    assert "tenants/beta/clients.yaml" in str(raised.value)
    runner = CliRunner()
    result = runner.invoke(app, ["config", "validate", str(config)], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert "tenants/beta/clients.yaml" in result.output.replace("\n", "")


def test_validate_names_each_tenant_with_its_own_maps(tmp_path: Path) -> None:
    config = config_with_beta_maps(tmp_path)
    result = CliRunner().invoke(app, ["config", "validate", str(config)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "tenant beta: its own clients, the rest shared" in result.output
    assert set(load_tenant_maps(config)) == {"beta"}
