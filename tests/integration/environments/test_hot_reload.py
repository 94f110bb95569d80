"""Hot reload mid-traffic: a running batch ends on the old version; nothing lost or doubled."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.engine import (
    Job,
    JobQueue,
    JobStatus,
    QueueConfig,
    RetryPolicy,
    Worker,
    WorkerConfig,
)
from freshforce.environments import ConfigWatch, apply_directory, rollback, running_maps
from freshforce.mapping import MapSet, load_maps
from freshforce.runtime import Runtime
from freshforce.settings import Settings

from .conftest import set_value

CONFIG = WorkerConfig(concurrency=2, batch_size=4, poll_interval=0.02, shutdown_timeout=5)


async def test_a_new_version_reaches_the_running_worker_without_loss(
    store_engine: AsyncEngine, settings: Settings, maps_dir: Path
) -> None:
    runtime = Runtime(settings, store_engine)
    queue = JobQueue(store_engine, config=QueueConfig(max_attempts=3))
    ran: list[tuple[str, str]] = []  # (key, account_type of the version it ran under)
    gate, held = asyncio.Event(), asyncio.Event()

    def build(maps: MapSet) -> dict[str, object]:
        label = str(maps.values["account_type"])

        async def handler(job, ctx) -> None:
            if job.key == "k0":  # the batch running when the new version lands
                held.set()
                await gate.wait()
            ran.append((job.key, label))

        return {"clients": handler}

    await apply_directory(store_engine, settings, directory=maps_dir, author="a", message="v1",
                          now=datetime.now(UTC))  # fmt: skip
    start, running = await running_maps(runtime, load_maps(None, profile="qa"))
    assert start.values["account_type"] == "Customer"
    assert running is not None
    worker = Worker(
        queue, build(start), name="w", policy=RetryPolicy.zero_wait(),
        rng=random.Random(3), config=CONFIG,
    )  # fmt: skip
    watch = ConfigWatch(runtime, build, running, worker)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await _enqueue(queue, range(10))
        await asyncio.wait_for(held.wait(), 10)
        assert await watch.check() is False  # nothing new yet
        set_value(maps_dir, "account_type", "Partner")
        await apply_directory(store_engine, settings, directory=maps_dir, author="b",
                              message="v2", now=datetime.now(UTC))  # fmt: skip
        assert await watch.check() is True
        assert watch.running == (2, watch.running[1] if watch.running else "")
        await _enqueue(queue, range(10, 20))
        gate.set()
        await _until_quiet(queue)
    finally:
        gate.set()
        stop.set()
        await task
    assert (await queue.counts())[JobStatus.DONE] == 20
    keys = Counter(key for key, _ in ran)
    assert sorted(keys) == sorted(f"k{n}" for n in range(20))
    assert set(keys.values()) == {1}  # none lost, none run twice
    labels = dict(ran)
    assert labels["k0"] == "Customer"  # finished under the version it started with
    assert {labels[f"k{n}"] for n in range(10, 20)} == {"Partner"}

    # A rollback is a new version with the old files: the next change runs the old behaviour.
    await rollback(store_engine, settings, 1, author="c", now=datetime.now(UTC))
    assert await watch.check() is True
    assert watch.running is not None
    assert watch.running[0] == 3
    job = await _one_job(queue, "k-after-rollback")
    await worker.flows["clients"].run([job], None)  # type: ignore[arg-type]  # no context used
    assert ran[-1] == ("k-after-rollback", "Customer")


async def _one_job(queue: JobQueue, key: str) -> Job:
    async with queue.engine.begin() as conn:
        await queue.enqueue(conn, "clients", key)
    (job,) = await queue.claim("test", 1)
    return job


async def _enqueue(queue: JobQueue, numbers: range) -> None:
    for n in numbers:
        async with queue.engine.begin() as conn:
            await queue.enqueue(conn, "clients", f"k{n}")


async def _until_quiet(queue: JobQueue) -> None:
    async with asyncio.timeout(20):
        while True:
            counts = await queue.counts()
            if counts[JobStatus.PENDING] == counts[JobStatus.RUNNING] == 0:
                return
            await asyncio.sleep(0.02)
