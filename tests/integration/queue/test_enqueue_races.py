"""Enqueue racing claims: concurrent pages never deadlock nor fail, on either backend."""

import asyncio
import random

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.util import await_only

from freshforce.engine.queue import JobQueue, JobRequest, JobStatus, Settlement


async def test_concurrent_enqueue_pages_against_claiming_workers(queue: JobQueue) -> None:
    keys = [f"sf/Account/{n}" for n in range(12)]
    stop = asyncio.Event()
    settled: list[int] = []

    async def intake(seed: int) -> None:
        rng = random.Random(seed)
        for page in range(15):
            requests = [
                JobRequest(flow, key, (f"{seed}-{page}",))
                for key in rng.sample(keys, 6)
                for flow in ("clients", "payments")
            ]
            rng.shuffle(requests)
            async with queue.engine.begin() as conn:
                await queue.enqueue_many(conn, requests)

    async def claimer(name: str) -> None:
        while not stop.is_set():
            jobs = await queue.claim(name, 5)
            settled.extend(j.id for j in jobs)
            await queue.settle(name, [Settlement(j, "done", 0.0) for j in jobs])
            await asyncio.sleep(0)

    claimers = [asyncio.create_task(claimer(f"w{n}")) for n in range(2)]
    try:
        async with asyncio.timeout(120):
            await asyncio.gather(*(intake(seed) for seed in range(4)))
    finally:
        stop.set()
        await asyncio.gather(*claimers)
    assert settled
    pending = await queue.jobs(status=JobStatus.PENDING, limit=1000)
    identities = [(j.tenant, j.flow, j.key) for j in pending]
    assert len(identities) == len(set(identities))  # still one pending job per identity


async def test_overlapping_pages_wait_on_each_other_and_merge(queue: JobQueue) -> None:
    """Pending A committed, B absent; T1 upserts [A, B] (merging A, inserting B) and pauses
    before its commit; a claimer skips A (locked) and cannot see B; T2 upserts the same page
    and waits on T1, whose locks come in the same (identity) order, so there is no deadlock;
    once T1 commits, T2 merges into both of T1's jobs."""
    if not queue.is_postgres:
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE: the interleaving cannot occur")
    async with queue.engine.begin() as conn:
        await queue.enqueue(conn, "f", "A")
    page = [JobRequest("f", "B", ("t",)), JobRequest("f", "A", ("t",))]
    paused, resume = asyncio.Event(), asyncio.Event()
    t1 = await queue.engine.connect()
    paused_once: list[bool] = []

    def pause_before_commit(*args: object) -> None:
        statement = str(args[2])
        if "pg_notify" in statement and not paused_once:
            paused_once.append(True)
            paused.set()
            await_only(resume.wait())

    event.listen(t1.sync_connection, "before_cursor_execute", pause_before_commit)

    async def first() -> list[int]:
        async with t1.begin():
            return await queue.enqueue_many(t1, page)

    async def second() -> list[int]:
        async with queue.engine.begin() as conn:
            return await queue.enqueue_many(conn, page)

    try:
        one = asyncio.create_task(first())
        await asyncio.wait_for(paused.wait(), 10)
        assert await queue.claim("worker", 5) == []  # A locked by T1, B not committed
        two = asyncio.create_task(second())
        await asyncio.sleep(0.5)  # T2 now waits on T1
        assert not two.done()
        resume.set()
        ids_one, ids_two = await asyncio.wait_for(asyncio.gather(one, two), 60)
    finally:
        resume.set()
        await t1.close()
    assert ids_one == ids_two
    pending = await queue.jobs(status=JobStatus.PENDING)
    assert sorted((j.key, j.hints) for j in pending) == [("A", ("t",)), ("B", ("t",))]
    async with queue.engine.connect() as conn:
        total = (await conn.execute(sa.text("SELECT count(*) FROM jobs"))).scalar_one()
    assert total == 2
