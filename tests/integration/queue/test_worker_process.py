import asyncio
import os
import random
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

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
from freshforce.store.schema import cursors

HERE = Path(__file__).parent
FRESHFORCE = str(Path(sys.executable).parent / "freshforce")


def now() -> datetime:
    return datetime.now(UTC)


def start_worker(database_url: str, log: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(HERE), "FRESHFORCE_DATABASE_URL": database_url}
    command = [FRESHFORCE, "worker", "--handlers", "queue_handlers:handlers", *args]
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


async def wait_for(condition, limit=60.0) -> None:
    # A generous bound: a worker subprocess imports the CLI first, which is slow on a busy
    # machine; the test checks what happens, never how fast.
    async with asyncio.timeout(limit):
        while not await condition():  # noqa: ASYNC110 - polls the database
            await asyncio.sleep(0.05)


async def enqueue(queue, key, *hints) -> int:
    async with queue.engine.begin() as conn:
        return await queue.enqueue(conn, "slow", key, hints)


async def finishers(engine) -> dict[str, str]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(cursors.c.connection_id, cursors.c.value))
        return dict(rows.all())


async def test_sigterm_finishes_the_running_job_and_releases_the_rest(
    store_engine, database_url, tmp_path
) -> None:
    queue = JobQueue(store_engine, clock=now)
    first = await enqueue(queue, "a", "sleep:1.0")
    for key in "bcde":
        await enqueue(queue, key)
    proc = start_worker(
        database_url, tmp_path / "worker.log", "--concurrency", "1", "--batch-size", "5"
    )
    try:

        async def first_running() -> bool:
            jobs = await queue.jobs(status=JobStatus.RUNNING)
            return [j.id for j in jobs] == [first] or len(jobs) > 1

        await wait_for(first_running)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 15) == 0
    finally:
        proc.kill()
        proc.wait()
    by_key = {j.key: j for j in await queue.jobs()}
    assert by_key["a"].status is JobStatus.DONE
    assert (await finishers(store_engine)) == {"a": str(proc.pid)}
    for key in "bcde":
        assert (by_key[key].status, by_key[key].attempt, by_key[key].locked_by) == (
            JobStatus.PENDING,
            0,
            None,
        )


async def test_killed_worker_loses_its_lease_and_another_takes_the_job(
    store_engine, database_url, tmp_path
) -> None:
    queue = JobQueue(store_engine, clock=now, config=QueueConfig(lease_seconds=1))
    job_id = await enqueue(queue, "k", "sleep:60")
    proc = start_worker(
        database_url, tmp_path / "worker.log", "--lease-seconds", "1", "--poll-interval", "0.1"
    )
    try:

        async def running() -> bool:
            return bool(await queue.jobs(status=JobStatus.RUNNING))

        await wait_for(running)
        [first] = await queue.jobs(status=JobStatus.RUNNING)
        assert first.lease_expires_at is not None

        async def renewed() -> bool:
            # The heartbeat moves the lease past the one the claim set. Waiting for that
            # rather than sleeping a fixed time keeps the test from depending on the
            # machine's load (a fixed 1.5 s sleep failed once under a busy CI).
            [job] = await queue.jobs(status=JobStatus.RUNNING)
            assert job.lease_expires_at is not None
            return job.lease_expires_at > first.lease_expires_at

        await wait_for(renewed, limit=30.0)
        [held] = await queue.jobs(status=JobStatus.RUNNING)
        assert held.locked_by == first.locked_by
        proc.send_signal(signal.SIGKILL)
        assert await asyncio.to_thread(proc.wait, 10) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.wait()

    async def quick(job, ctx) -> Outcome:
        async def finished_by(conn) -> None:
            await conn.execute(
                sa.insert(cursors).values(
                    connection_id=job.key, stream="finished-by", value="rescuer", updated_at=now()
                )
            )

        return Outcome.done(job, finished_by)

    rescuer = Worker(
        queue,
        {"slow": quick},
        name="rescuer",
        policy=RetryPolicy.zero_wait(),
        rng=random.Random(1),
        config=WorkerConfig(poll_interval=0.1, prune_interval=0),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(rescuer.run(stop))

    async def done() -> bool:
        return (await queue.counts())[JobStatus.DONE] == 1

    try:
        await wait_for(done)
    finally:
        stop.set()
        await task
    attempts = await queue.attempts(job_id)
    assert [(a.attempt, a.outcome) for a in attempts] == [(1, "lost"), (2, "done")]
    assert attempts[0].worker == held.locked_by
    assert attempts[1].worker == "rescuer"
    assert await finishers(store_engine) == {"k": "rescuer"}
