"""A burst of writes trips the update breaker: the flow pauses, its jobs wait unattempted.

The clients flow gets a history first (its records written eight days ago, and a couple of
records written in this hour of each of the last seven days: a usual of 2 an hour). Twelve
updates then run one job at a time; past the limit (5 in the window) the breaker pauses the
flow, the rest wait in the queue (nothing written, no attempt spent, however often the worker
claims them), an alert is raised; resuming lets them through.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from freshforce.assist.breaker import UpdateBreaker, UpdateBurst, resume
from freshforce.engine import JobStatus, RetryPolicy, Worker, WorkerConfig
from freshforce.flows import builtin_flows
from freshforce.store.alerts import list_alerts
from freshforce.store.dbtime import db_time
from freshforce.store.pauses import get_pause
from freshforce.store.schema import attempts, field_writes

from .conftest import World

BURST = UpdateBurst(min_updates=5)  # limit: max(5, 10 x 2 an hour x 15/60) = 5
DAY = 86_400.0


@dataclass
class CountingGate:
    """The breaker, counting how often it kept a batch from running."""

    breaker: UpdateBreaker
    wait: float = 0.05  # paused jobs come back at once, to be deferred again and again
    deferred: int = 0
    asked: list[str] = field(default_factory=list)

    async def paused(self, tenant: str, flow: str) -> str | None:
        why = await self.breaker.paused(tenant, flow)
        self.asked.append(flow)
        self.deferred += why is not None
        return why


async def _history(world: World) -> None:
    """Move what the flow wrote so far eight days back, and write 2 records a day this hour."""
    dialect = world.engine.dialect.name
    async with world.engine.begin() as db:
        rows = (await db.execute(sa.select(field_writes.c.id))).scalars().all()
        for n, row_id in enumerate(rows):
            at = db_time(dialect, -8 * DAY - n)
            await db.execute(
                sa.update(field_writes).where(field_writes.c.id == row_id).values(at=at)
            )
        for day in range(1, 8):
            for n in range(2):
                await db.execute(
                    sa.insert(field_writes).values(
                        tenant="default", flow="clients", system="salesforce", object="Account",
                        record_id=f"001HIST{day}{n}", field="Name", before="a", after="b",
                        at=db_time(dialect, -day * DAY - 600 - n),
                    )
                )  # fmt: skip


async def _run_until(
    world: World, gate: CountingGate, done: Callable[[], Coroutine[Any, Any, bool]]
) -> None:
    worker = Worker(
        world.queue(),
        builtin_flows(world.runtime, world.maps),
        name=f"burst-worker-{random.getrandbits(24):06x}",
        policy=RetryPolicy.zero_wait(),
        rng=random.Random(1),
        config=WorkerConfig(concurrency=1, batch_size=1, poll_interval=0.02),
        gate=gate,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        for _ in range(1500):
            await asyncio.sleep(0.02)
            if await done():
                return
        raise AssertionError("the worker did not get there")
    finally:
        stop.set()
        await task


async def _names(world: World) -> list[str]:
    found = await world.soql("SELECT Name FROM Account WHERE Name LIKE 'Burst %' ORDER BY Name")
    return [a["Name"] for a in found]


async def _jobs(world: World, status: JobStatus) -> list[Any]:
    return await world.queue().jobs(status=status, flow="clients")


async def _setup(world: World, records: int) -> list[int]:
    ids = [await world.fb_create(organization=f"Burst {n:02}", lname="P") for n in range(records)]
    await world.sync(*(f"freshbooks/client/{i}" for i in ids))
    await _history(world)
    for i in ids:
        await world.fb_update(i, organization=f"Burst {i} renamed")
    await world.enqueue("clients", *(f"freshbooks/client/{i}" for i in ids))
    return ids


async def test_a_burst_of_updates_pauses_the_flow_until_resumed(world: World) -> None:
    ids = await _setup(world, 12)
    gate = CountingGate(UpdateBreaker(world.engine, {"clients": BURST}, cache_seconds=0))

    async def deferred_often() -> bool:
        return gate.deferred >= 20  # the waiting jobs came back many times

    await _run_until(world, gate, deferred_often)
    renamed = [n for n in await _names(world) if n.endswith("renamed")]
    # The write that made it a burst passes, and so may the one batch the worker started while
    # that write was still committing (the breaker counts committed writes); no more.
    assert BURST.min_updates + 1 <= len(renamed) <= BURST.min_updates + 2, renamed
    waiting = await _jobs(world, JobStatus.PENDING)
    assert len(waiting) == len(ids) - len(renamed)
    assert {j.attempt for j in waiting} == {0}  # claimed again and again, never attempted
    async with world.engine.connect() as db:
        spent = (
            await db.execute(
                sa.select(sa.func.count()).where(attempts.c.job_id.in_([j.id for j in waiting]))
            )
        ).scalar_one()
        pause = await get_pause(db, "default", "clients")
        [alert] = await list_alerts(db)
    assert spent == 0
    assert pause is not None
    assert pause.paused
    assert pause.paused_by == "update_breaker"
    counted = re.match(r"a burst of writes: (\d+) records written on clients", pause.reason)
    assert counted is not None, pause.reason
    # Counted when it paused: the crossing write, before a batch already running could add one.
    assert BURST.min_updates + 1 <= int(counted[1]) <= len(renamed)
    assert pause.reason.endswith(
        " in the last 15 minutes, over the limit of 5 (10x the usual 2 an hour at this time of "
        "day, median of 7 days); the flow is paused until resumed"
    )
    assert (alert.kind, alert.severity, alert.resolved_at) == (
        "clients_update_breaker",
        "error",
        None,
    )

    async with world.engine.begin() as db:
        assert await resume(db, "default", "clients", by="ops")

    async def settled() -> bool:
        counts = await world.queue().counts()
        return not counts.get(JobStatus.PENDING) and not counts.get(JobStatus.RUNNING)

    await _run_until(world, gate, settled)
    assert [n for n in await _names(world) if n.endswith("renamed")] == sorted(
        f"Burst {i} renamed" for i in ids
    )
    async with world.engine.connect() as db:
        kinds = {(a.kind, a.resolved_at is not None) for a in await list_alerts(db)}
        pause = await get_pause(db, "default", "clients")
    assert kinds == {("clients_update_breaker", True), ("clients_update_breaker_resolved", True)}
    assert pause is not None
    assert not pause.paused
    assert pause.resumed_by == "ops"


async def test_updates_under_the_limit_do_not_pause(world: World) -> None:
    ids = await _setup(world, 5)
    gate = CountingGate(UpdateBreaker(world.engine, {"clients": BURST}, cache_seconds=0))

    async def settled() -> bool:
        counts = await world.queue().counts()
        return not counts.get(JobStatus.PENDING) and not counts.get(JobStatus.RUNNING)

    await _run_until(world, gate, settled)
    assert len([n for n in await _names(world) if n.endswith("renamed")]) == len(ids)
    assert gate.deferred == 0
    assert len(gate.asked) >= len(ids)
    async with world.engine.connect() as db:
        assert await get_pause(db, "default", "clients") is None
        assert await list_alerts(db) == []
