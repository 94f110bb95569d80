"""Several integration pairs on one store: each tenant's changes are read, run and written
with that tenant's own FreshBooks account and Salesforce org, never another's.

A second pair gets its own sandboxes: its Salesforce org at its own instance URL (as every org
has), its FreshBooks account behind the same API host as the first, the request handed to the
sandbox that issued its bearer token. The service is started before the second tenant is
connected: it picks the tenant up while running.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from pydantic import SecretStr

from freshforce.connectors.freshbooks.client import RESOURCES, FreshBooksClient
from freshforce.flows import builtin_flows
from freshforce.mapping import load_maps
from freshforce.runtime import Runtime
from freshforce.sandbox.core import SandboxRuntime
from freshforce.sandbox.freshbooks import FreshBooksOptions, build_freshbooks
from freshforce.sandbox.freshbooks.app import FreshBooksSandbox
from freshforce.sandbox.salesforce.build import SalesforceSandbox, build_salesforce_sandbox
from freshforce.service import Service
from freshforce.store.connections import NewConnection, Tokens, save_connection
from freshforce.store.schema import events, jobs

from .conftest import (
    FB_API,
    REDIRECT,
    SF_API,
    World,
    eventually,
    now,
)
from .test_service_run import running, stopped

OTHER_INSTANCE = "https://globex.my.salesforce.com"


class ByToken(httpx.AsyncBaseTransport):
    """One FreshBooks API host serving several accounts: each request goes to the sandbox that
    issued its bearer token (the first sandbox for any other request)."""

    def __init__(self, first: httpx.AsyncBaseTransport) -> None:
        self.first = first
        self.by_token: dict[str, httpx.AsyncBaseTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        return await self.by_token.get(token, self.first).handle_async_request(request)


async def _organizations(client: FreshBooksClient) -> list[str]:
    page = await client.list_page(RESOURCES["clients"], 1)
    return sorted(str(r.raw.get("organization")) for r in page.records)


async def _names(client: httpx.AsyncClient, soql: str) -> list[str]:
    found = await client.get(f"{SF_API}/query", params={"q": soql})
    assert found.status_code == 200, found.text
    return sorted(str(r["Name"]) for r in found.json()["records"])


async def _connect_second_pair(
    runtime: Runtime, fb_router: ByToken, fb2: FreshBooksSandbox, sf2: SalesforceSandbox
) -> None:
    """Store tenant ``globex``'s two connections, as `freshforce connect --tenant` would."""
    fb2_app = httpx.ASGITransport(app=fb2.app)
    async with httpx.AsyncClient(transport=fb2_app, base_url=FB_API) as fb2_admin:
        minted = (await fb2_admin.post("/_sandbox/tokens", json={})).json()
    fb_router.by_token[minted["access_token"]] = fb2_app
    code = sf2.sessions.authorize(
        sf2.client_id, REDIRECT, sf2.state.admin_user_id, "api refresh_token"
    )
    grant = sf2.sessions.exchange_code(sf2.client_id, sf2.client_secret, code, REDIRECT)
    assert grant.refresh_token is not None
    fb_tokens = Tokens(
        SecretStr(minted["access_token"]),
        SecretStr(minted["refresh_token"]),
        now() + timedelta(seconds=minted["expires_in"]),
    )
    sf_tokens = Tokens(SecretStr(grant.session.access_token), SecretStr(grant.refresh_token), None)
    async with runtime.engine.begin() as db:
        await save_connection(
            db,
            runtime.cipher,
            NewConnection("fb-globex", "freshbooks", fb_tokens, "globex", remote_account="SBX7QK"),
            now=now(),
        )
        await save_connection(
            db,
            runtime.cipher,
            NewConnection(
                "sf-globex",
                "salesforce",
                sf_tokens,
                "globex",
                remote_account=sf2.state.org_id,
                instance_url=OTHER_INSTANCE,
            ),
            now=now(),
        )


async def test_two_tenants_sync_each_in_its_own_pair_and_nothing_crosses(world: World) -> None:
    fb_router = ByToken(world.transport.routes["fb.test"])
    world.transport.routes["fb.test"] = fb_router
    runtime = await world.runtime(poll_interval_seconds=0.2)
    maps = load_maps(None)
    flows: dict[str, Any] = {"clients": builtin_flows(runtime, maps)["clients"]}
    service = Service(runtime, maps, flows, tenant_scan_seconds=0.2)
    stop, task = await running(service)
    fb2_runtime = SandboxRuntime.create(8)
    sf2_runtime = SandboxRuntime.create(seed=8)
    try:
        # The second pair, connected while the service runs.
        fb2 = build_freshbooks(FreshBooksOptions(seed=8), fb2_runtime)
        sf2 = build_salesforce_sandbox(sf2_runtime, seed=8, daily_api_limit=100_000)
        sf2_app = httpx.ASGITransport(app=sf2.app)
        world.transport.routes["globex.my.salesforce.com"] = sf2_app
        await _connect_second_pair(runtime, fb_router, fb2, sf2)

        async def watched() -> bool:
            return {t.tenant for t in service.intake} == {"default", "globex"}

        await eventually(watched, "the second tenant to be watched")
        # One client in each FreshBooks account: the same client id in both, as both count
        # from the same first id.
        first = await runtime.freshbooks("fb")
        second = await runtime.freshbooks("fb-globex")
        made = await first.create(
            RESOURCES["clients"], {"email": "a@acme.test", "organization": "Acme Ltd"}
        )
        other = await second.create(
            RESOURCES["clients"], {"email": "g@globex.test", "organization": "Globex Corp"}
        )
        assert made.id == other.id
        user2 = sf2.sessions.mint(sf2.state.admin_user_id).access_token
        async with httpx.AsyncClient(
            transport=sf2_app,
            base_url=OTHER_INSTANCE,
            headers={"Authorization": f"Bearer {user2}"},
        ) as sf2_user:
            soql = "SELECT Name FROM Account"

            async def synced() -> bool:
                return await _names(world.sf_user, soql) == ["Acme Ltd"] and await _names(
                    sf2_user, soql
                ) == ["Globex Corp"]

            await eventually(synced, "each client to reach its own org", within=30)
            # An Account made in the second org reaches the second FreshBooks account only.
            added = await sf2_user.post(f"{SF_API}/sobjects/Account/", json={"Name": "Initech"})
            assert added.status_code == 201, added.text

            async def back() -> bool:
                return await _organizations(second) == ["Globex Corp", "Initech"]

            await eventually(back, "the second org's Account to reach its FreshBooks", within=30)
            await asyncio.sleep(0.5)  # a further poll round: nothing more arrives anywhere
            assert await _names(world.sf_user, soql) == ["Acme Ltd"]
            assert await _names(sf2_user, soql) == ["Globex Corp", "Initech"]
        assert await _organizations(first) == ["Acme Ltd"]
    finally:
        await stopped(stop, task)
        await fb2_runtime.aclose()
        await sf2_runtime.aclose()
    async with runtime.engine.connect() as db:
        rows = (await db.execute(sa.select(jobs.c.tenant, jobs.c.key))).all()
        stored = (await db.execute(sa.select(events.c.tenant, events.c.object))).all()
    keys = {(tenant, key) for tenant, key in rows}
    assert ("default", f"freshbooks/client/{made.id}") in keys
    assert ("globex", f"freshbooks/client/{other.id}") in keys
    assert {tenant for tenant, _ in stored} == {"default", "globex"}
