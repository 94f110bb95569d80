"""A job whose reads went stale while it waited for its lock syncs again instead of writing.

Found by the echo drill (bench/echo.py): a batch read a linked record's snapshot and both sides,
another batch synced the record and committed, and the first then took the match lock and merged
its stale snapshot with its stale reads: it wrote an old value over a newer edit.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from freshforce.engine import RetryPolicy, Worker, WorkerConfig
from freshforce.engine.syncstate import load_state
from freshforce.flows import builtin_flows
from freshforce.flows.clients import ClientsFlow
from freshforce.store.scope import Scope

from .conftest import World

SCOPE = Scope("default", "clients")


async def phone_in_snapshot(world: World, fb_id: int) -> Any:
    async with world.engine.connect() as db:
        state = await load_state(db, SCOPE, freshbooks_ids=[str(fb_id)])
    snapshot = state.by_freshbooks[str(fb_id)].snapshot
    return snapshot.fields.get("Account.Phone") if snapshot else None


async def sync_meanwhile(world: World, key: str, fb_id: int, phone: str) -> None:
    """Another worker syncs ``key`` to completion while the first job is still running."""
    await world.enqueue("clients", key)
    worker = Worker(
        world.queue(), builtin_flows(world.runtime, world.maps), name="meanwhile",
        policy=RetryPolicy.zero_wait(), rng=random.Random(2),
        config=WorkerConfig(concurrency=1, batch_size=5, poll_interval=0.02),
    )  # fmt: skip
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        for _ in range(600):
            if await phone_in_snapshot(world, fb_id) == phone:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the other worker did not sync the record")
    finally:
        stop.set()
        await task


async def test_a_record_synced_between_reads_and_lock_is_not_overwritten(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    fb_id = await world.fb_create(organization="Stale Co", fname="Sam", lname="Stale")
    await world.sync(f"freshbooks/client/{fb_id}")
    [account] = await world.soql(
        f"SELECT Id FROM Account WHERE FreshBooks_Client_Id__c = '{fb_id}'"  # noqa: S608 - SOQL, values quoted
    )
    account_key = f"salesforce/Account/{account['Id']}"
    await world.fb_update(fb_id, bus_phone="555-0101")

    lock = ClientsFlow._lock
    hooked = False

    async def lock_after_another_sync(self: ClientsFlow, *args: Any) -> None:
        nonlocal hooked
        if not hooked:
            hooked = True
            # This job has read phone 555-0101 in FreshBooks and the old phone in Salesforce.
            # Meanwhile another job copies it over, and then someone edits it in Salesforce.
            await sync_meanwhile(world, account_key, fb_id, "555-0101")
            await world.sf_update(account["Id"], Phone="555-0199")
        await lock(self, *args)

    monkeypatch.setattr(ClientsFlow, "_lock", lock_after_another_sync)
    await world.sync(f"freshbooks/client/{fb_id}")
    monkeypatch.setattr(ClientsFlow, "_lock", lock)
    assert hooked
    [found] = await world.soql(f"SELECT Phone FROM Account WHERE Id = '{account['Id']}'")  # noqa: S608 - SOQL, values quoted
    assert found["Phone"] == "555-0199"  # the newer edit stands
    await world.sync(account_key)
    assert (await world.fb_get(fb_id))["bus_phone"] == "555-0199"
