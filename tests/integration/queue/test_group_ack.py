"""Group commit: the settlements of many batches share one transaction, each job still fenced."""

import asyncio
import random
from datetime import UTC, datetime

import sqlalchemy as sa

from freshforce.engine import (
    JobQueue,
    JobStatus,
    Outcome,
    QueueConfig,
    RetryPolicy,
    Worker,
    WorkerConfig,
)
from freshforce.engine.queue import Settlement
from freshforce.store.schema import cursors, jobs


def real_clock() -> datetime:
    return datetime.now(UTC)


class CountingQueue(JobQueue):
    """A JobQueue that remembers the size of every group commit."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.groups: list[int] = []

    async def settle(self, worker, settlements, **kwargs):
        self.groups.append(len(settlements))
        return await super().settle(worker, settlements, **kwargs)


async def drain(queue: JobQueue, handlers, *, concurrency: int = 8) -> None:
    worker = Worker(
        queue,
        handlers,
        name="w1",
        policy=RetryPolicy.zero_wait(),
        rng=random.Random(3),
        config=WorkerConfig(concurrency=concurrency, batch_size=40, poll_interval=0.02),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        async with asyncio.timeout(20):
            while True:
                counts = await queue.counts()
                if counts[JobStatus.PENDING] == counts[JobStatus.RUNNING] == 0:
                    break
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await task
    assert worker.held == 0


async def test_outcomes_of_many_jobs_commit_in_groups_with_their_effects(store_engine) -> None:
    queue = CountingQueue(store_engine, config=QueueConfig())

    async def noop(_job, _ctx) -> None:
        await asyncio.sleep(0.005)

    async def skip(job, _ctx) -> Outcome:
        return Outcome.skipped(job)

    async def writer(job, _ctx) -> Outcome:
        async def effect(conn) -> None:
            await conn.execute(
                sa.insert(cursors).values(
                    connection_id=job.key, stream="w", value="1", updated_at=real_clock()
                )
            )

        return Outcome.done(job, effect)

    async with store_engine.begin() as conn:
        for n in range(60):
            await queue.enqueue(conn, "noop", f"n{n}")
        for n in range(5):
            await queue.enqueue(conn, "skip", f"s{n}")
            await queue.enqueue(conn, "writer", f"w{n}")
    await drain(queue, {"noop": noop, "skip": skip, "writer": writer})

    assert sum(queue.groups) == 70
    assert max(queue.groups) > 1
    assert len(queue.groups) < 70
    async with store_engine.connect() as conn:
        statuses = (await conn.execute(sa.select(jobs.c.status).distinct())).scalars().all()
        written = (await conn.execute(sa.select(cursors.c.connection_id))).scalars().all()
    assert statuses == [JobStatus.DONE.value]
    assert sorted(written) == [f"w{n}" for n in range(5)]
    for job in await queue.jobs(limit=100):
        outcomes = [a.outcome for a in await queue.attempts(job.id)]
        assert outcomes == ["skipped" if job.flow == "skip" else "done"], job


async def test_a_group_commit_skips_jobs_whose_lease_was_taken(store_engine) -> None:
    queue = JobQueue(store_engine, config=QueueConfig())
    async with store_engine.begin() as conn:
        for key in ("a", "b", "c"):
            await queue.enqueue(conn, "f", key)
    held = await queue.claim("w1", 10)
    assert len(held) == 3
    stolen = held[1]
    async with store_engine.begin() as conn:
        await conn.execute(sa.update(jobs).where(jobs.c.id == stolen.id).values(locked_by="w2"))

    async def effect(conn) -> None:
        await conn.execute(
            sa.insert(cursors).values(
                connection_id="stolen", stream="s", value="1", updated_at=real_clock()
            )
        )

    settlements = [Settlement(j, "done", 0.0, (effect,) if j is stolen else ()) for j in held]
    ended = await queue.settle("w1", settlements)

    assert ended == {held[0].id: "done", stolen.id: "lost_lease", held[2].id: "done"}
    assert await queue.attempts(stolen.id) == []
    async with store_engine.connect() as conn:
        assert (await conn.execute(sa.select(cursors.c.connection_id))).all() == []
    [still_running] = await queue.jobs(status=JobStatus.RUNNING)
    assert (still_running.id, still_running.locked_by) == (stolen.id, "w2")
    for job in (held[0], held[2]):
        [attempt] = await queue.attempts(job.id)
        assert (attempt.outcome, attempt.worker, attempt.attempt) == ("done", "w1", 1)
