"""Group commit of acks: effect-free jobs share ack transactions, writing handlers keep theirs."""

import asyncio
import random
from datetime import UTC, datetime

import sqlalchemy as sa

from freshforce.engine import (
    JobQueue,
    JobResult,
    JobStatus,
    QueueConfig,
    RetryPolicy,
    Worker,
    WorkerConfig,
)
from freshforce.store.schema import cursors, jobs


def real_clock() -> datetime:
    return datetime.now(UTC)


class CountingQueue(JobQueue):
    """A JobQueue that remembers the size of every group ack."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.groups: list[int] = []

    async def complete_many(self, worker, finished):
        self.groups.append(len(finished))
        return await super().complete_many(worker, finished)


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


async def test_effect_free_acks_commit_in_groups_and_writers_keep_their_own(
    store_engine,
) -> None:
    queue = CountingQueue(store_engine, clock=real_clock, config=QueueConfig())

    async def noop(_job, _conn) -> None:
        await asyncio.sleep(0.005)

    async def skip(_job, _conn) -> JobResult:
        return JobResult.SKIPPED

    async def writer(job, conn) -> None:
        await conn.execute(
            sa.insert(cursors).values(
                connection_id=job.key, stream="w", value="1", updated_at=real_clock()
            )
        )

    async with store_engine.begin() as conn:
        for n in range(60):
            await queue.enqueue(conn, "noop", f"n{n}")
        for n in range(5):
            await queue.enqueue(conn, "skip", f"s{n}")
            await queue.enqueue(conn, "writer", f"w{n}")
    await drain(queue, {"noop": noop, "skip": skip, "writer": writer})

    assert sum(queue.groups) == 65  # the writers acked in their own transactions
    assert max(queue.groups) > 1
    assert len(queue.groups) < 65
    async with store_engine.connect() as conn:
        statuses = (await conn.execute(sa.select(jobs.c.status).distinct())).scalars().all()
        written = (await conn.execute(sa.select(cursors.c.connection_id))).scalars().all()
    assert statuses == [JobStatus.DONE.value]
    assert sorted(written) == [f"w{n}" for n in range(5)]
    for job in await queue.jobs(limit=100):
        outcomes = [a.outcome for a in await queue.attempts(job.id)]
        assert outcomes == ["skipped" if job.flow == "skip" else "done"], job


async def test_a_group_ack_skips_jobs_whose_lease_was_taken(store_engine) -> None:
    queue = JobQueue(store_engine, clock=real_clock, config=QueueConfig())
    async with store_engine.begin() as conn:
        for key in ("a", "b", "c"):
            await queue.enqueue(conn, "f", key)
    held = await queue.claim("w1", 10)
    assert len(held) == 3
    stolen = held[1]
    async with store_engine.begin() as conn:
        await conn.execute(sa.update(jobs).where(jobs.c.id == stolen.id).values(locked_by="w2"))

    started = real_clock()
    acked = await queue.complete_many("w1", [(j, started, "done") for j in held])

    assert acked == {held[0].id, held[2].id}
    assert await queue.attempts(stolen.id) == []
    [still_running] = await queue.jobs(status=JobStatus.RUNNING)
    assert (still_running.id, still_running.locked_by) == (stolen.id, "w2")
    for job in (held[0], held[2]):
        [attempt] = await queue.attempts(job.id)
        assert (attempt.outcome, attempt.worker, attempt.attempt) == ("done", "w1", 1)
