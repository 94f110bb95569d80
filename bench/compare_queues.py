"""Compare the job queue with pgqueuer and procrastinate, side by side in one run.

    uv run python bench/compare_queues.py                    # 20k no-op jobs per queue
    uv run python bench/compare_queues.py --jobs 200 --json  # the smoke test's reduced run

Every queue gets a fresh database on the same PostgreSQL (freshforce also on SQLite), the same
number of no-op jobs with distinct keys, enqueued 100 per call (a transaction, a batch insert),
and one worker process fetching 50 jobs at a time (freshforce and procrastinate run 8 at once,
pgqueuer its default, unlimited). Three numbers per queue:

- enqueue/s: jobs enqueued per second, one producer;
- drained/s: jobs run and recorded as finished per second, from the worker's start until the
  queue is empty;
- p99 ms: with the worker idle and listening, jobs enqueued one at a time (5 ms apart) are
  timed from the enqueue's commit to the start of their handler; the 99th percentile.

pgqueuer and procrastinate are the ``bench`` dependency group (``uv sync --group bench``); a
peer that is not installed is reported as skipped and the others still run.
"""

import argparse
import asyncio
import importlib.metadata
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import structlog

from freshforce.engine import (
    JobQueue,
    JobRequest,
    JobStatus,
    QueueConfig,
    RetryPolicy,
    Worker,
    WorkerConfig,
)
from freshforce.store.engine import create_engine
from freshforce.store.schema import metadata

POSTGRES_ADMIN_URL = os.environ.get(
    "FRESHFORCE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
PAGE = 100
GAP_S = 0.005


@dataclass(frozen=True)
class Row:
    """One queue's line of the table; ``skipped`` says why a peer did not run."""

    queue: str
    version: str
    backend: str
    jobs: int
    enqueue_per_s: float = 0.0
    drained_per_s: float = 0.0
    latency_p99_ms: float = 0.0
    ran: int = 0
    skipped: str = ""


@dataclass(frozen=True)
class Plan:
    """What every queue is asked to do."""

    jobs: int
    latency_jobs: int
    batch: int
    concurrency: int


class Timings:
    """Handler starts: how many ran, and the enqueue-to-start delay of the timed ones."""

    def __init__(self) -> None:
        self.ran = 0
        self.delays: list[float] = []
        self.all_ran = asyncio.Event()
        self.expected = 0

    def started(self, stamp: float | None) -> None:
        self.ran += 1
        if stamp is not None:
            self.delays.append(time.time() - stamp)
        if self.ran >= self.expected:
            self.all_ran.set()

    def expect(self, count: int) -> None:
        self.ran, self.expected = 0, count
        self.all_ran.clear()


def _p99_ms(samples: list[float]) -> float:
    if len(samples) < 2:
        return samples[0] * 1000.0 if samples else 0.0
    return statistics.quantiles(samples, n=100, method="inclusive")[98] * 1000.0


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


async def _timed_singles(plan: Plan, timings: Timings, enqueue_one: Callable[[float], Any]) -> None:
    timings.expect(plan.latency_jobs)
    for _ in range(plan.latency_jobs):
        await enqueue_one(time.time())
        await asyncio.sleep(GAP_S)
    await asyncio.wait_for(timings.all_ran.wait(), 60)


# -- freshforce ---------------------------------------------------------------------------------


async def run_freshforce(url: str, backend: str, plan: Plan) -> Row:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        return await _freshforce(engine, backend, plan)
    finally:
        await engine.dispose()


async def _freshforce(engine: sa.ext.asyncio.AsyncEngine, backend: str, plan: Plan) -> Row:
    queue = JobQueue(engine, config=QueueConfig(lease_seconds=60))
    timings = Timings()

    async def noop(job: Any, _ctx: object) -> None:  # noqa: ANN401 - the engine's Job
        timings.started(float(job.hints[0]) if job.hints and job.hints[0] != "-" else None)

    quiet = structlog.wrap_logger(
        structlog.PrintLogger(), wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR)
    )
    worker = Worker(
        queue,
        {"noop": noop},
        name="bench",
        policy=RetryPolicy.zero_wait(),
        rng=random.Random(1),
        config=WorkerConfig(
            concurrency=plan.concurrency,
            batch_size=plan.batch,
            poll_interval=0.05,
            prune_interval=0,
        ),
        logger=quiet,
    )
    requests = [JobRequest("noop", f"k{n}", ("-",)) for n in range(plan.jobs)]
    started = time.perf_counter()
    for offset in range(0, plan.jobs, PAGE):
        async with engine.begin() as conn:
            await queue.enqueue_many(conn, requests[offset : offset + PAGE])
    enqueue_s = time.perf_counter() - started
    timings.expect(plan.jobs)
    stop = asyncio.Event()
    started = time.perf_counter()
    running = asyncio.create_task(worker.run(stop))
    await timings.all_ran.wait()
    while True:  # every handler ran; wait for their outcomes to be committed
        counts = await queue.counts()
        if counts[JobStatus.PENDING] + counts[JobStatus.RUNNING] == 0:
            break
        await asyncio.sleep(0.01)
    drain_s = time.perf_counter() - started
    ran = (await queue.counts())[JobStatus.DONE]

    async def one(stamp: float) -> None:
        async with engine.begin() as conn:
            await queue.enqueue(conn, "noop", f"t{uuid.uuid4().hex}", [repr(stamp)])

    await _timed_singles(plan, timings, one)
    stop.set()
    await running
    return Row(
        "freshforce",
        _version("freshforce") or "?",
        backend,
        plan.jobs,
        plan.jobs / enqueue_s,
        ran / drain_s,
        _p99_ms(timings.delays),
        ran,
    )


# -- pgqueuer -----------------------------------------------------------------------------------


async def run_pgqueuer(url: str, plan: Plan) -> Row:
    import asyncpg  # noqa: PLC0415 - asyncpg is freshforce's own driver
    from pgqueuer import Queries, QueueManager  # noqa: PLC0415 - optional peer
    from pgqueuer.db import AsyncpgDriver  # noqa: PLC0415 - optional peer
    from pgqueuer.types import QueueExecutionMode  # noqa: PLC0415 - optional peer

    producer = await asyncpg.connect(url)
    consumer = await asyncpg.connect(url)
    try:
        queries = Queries(AsyncpgDriver(producer))
        await queries.install()
        timings = Timings()
        started = time.perf_counter()
        for offset in range(0, plan.jobs, PAGE):
            count = min(PAGE, plan.jobs - offset)
            await queries.enqueue(["noop"] * count, [None] * count, [0] * count)
        enqueue_s = time.perf_counter() - started

        def manager() -> Any:  # noqa: ANN401 - the peer's QueueManager
            qm = QueueManager(Queries(AsyncpgDriver(consumer)))

            @qm.entrypoint("noop")
            async def noop(job: Any) -> None:  # noqa: ANN401 - the peer's Job
                timings.started(float(job.payload.decode()) if job.payload else None)

            return qm

        timings.expect(plan.jobs)
        started = time.perf_counter()
        await manager().run(batch_size=plan.batch, mode=QueueExecutionMode.drain)
        drain_s = time.perf_counter() - started
        ran = timings.ran
        qm = manager()
        running = asyncio.create_task(qm.run(batch_size=plan.batch))
        await asyncio.sleep(0.5)  # listening

        async def one(stamp: float) -> None:
            await queries.enqueue("noop", repr(stamp).encode())

        await _timed_singles(plan, timings, one)
        qm.shutdown.set()
        await running
    finally:
        await producer.close()
        await consumer.close()
    return Row(
        "pgqueuer",
        _version("pgqueuer") or "?",
        "postgresql",
        plan.jobs,
        plan.jobs / enqueue_s,
        ran / drain_s,
        _p99_ms(timings.delays),
        ran,
    )


# -- procrastinate ------------------------------------------------------------------------------


async def run_procrastinate(url: str, plan: Plan) -> Row:
    import procrastinate  # noqa: PLC0415 - optional peer

    logging.getLogger("procrastinate").setLevel(logging.ERROR)
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))
    timings = Timings()

    @app.task(name="noop")
    async def noop(stamp: float | None = None) -> None:
        timings.started(stamp)

    async with app.open_async():
        await app.schema_manager.apply_schema_async()
        started = time.perf_counter()
        for offset in range(0, plan.jobs, PAGE):
            count = min(PAGE, plan.jobs - offset)
            await noop.batch_defer_async(*({} for _ in range(count)))
        enqueue_s = time.perf_counter() - started
        timings.expect(plan.jobs)
        started = time.perf_counter()
        await app.run_worker_async(
            wait=False, concurrency=plan.concurrency, install_signal_handlers=False
        )
        drain_s = time.perf_counter() - started
        ran = timings.ran
        running = asyncio.create_task(
            app.run_worker_async(concurrency=plan.concurrency, install_signal_handlers=False)
        )
        await asyncio.sleep(0.5)  # listening

        async def one(stamp: float) -> None:
            await noop.defer_async(stamp=stamp)

        await _timed_singles(plan, timings, one)
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    return Row(
        "procrastinate",
        _version("procrastinate") or "?",
        "postgresql",
        plan.jobs,
        plan.jobs / enqueue_s,
        ran / drain_s,
        _p99_ms(timings.delays),
        ran,
    )


# -- the run ------------------------------------------------------------------------------------

Runner = Callable[[str, Plan], Awaitable[Row]]
PEERS: dict[str, tuple[str, Runner]] = {
    "pgqueuer": ("pgqueuer", run_pgqueuer),
    "procrastinate": ("procrastinate", run_procrastinate),
}


def _fresh_postgres(admin_url: str, body: Callable[[str], Row]) -> Row:
    name = f"ff_cmp_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(
        admin_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        return body(admin_url.rsplit("/", 1)[0] + f"/{name}")
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def run_all(plan: Plan, admin_url: str, queues: list[str]) -> list[Row]:
    rows: list[Row] = []
    for name in queues:
        if name == "freshforce":
            rows.append(
                _fresh_postgres(
                    admin_url, lambda url: asyncio.run(run_freshforce(url, "postgresql", plan))
                )
            )
            with tempfile.TemporaryDirectory() as tmp:
                url = f"sqlite+aiosqlite:///{tmp}/bench.db"
                rows.append(asyncio.run(run_freshforce(url, "sqlite", plan)))
            continue
        package, runner = PEERS[name]
        version = _version(package)
        if version is None:
            reason = f"{package} is not installed (uv sync --group bench)"
            print(f"skipping {name}: {reason}", file=sys.stderr, flush=True)
            rows.append(Row(name, "-", "postgresql", plan.jobs, skipped=reason))
            continue
        rows.append(_fresh_postgres(admin_url, lambda url, run=runner: asyncio.run(run(url, plan))))
    return rows


def table(rows: list[Row]) -> str:
    reference = next((r for r in rows if r.queue == "pgqueuer" and not r.skipped), None)

    def ratio(value: float, of: float | None) -> str:
        return f" ({value / of:.2f}x)" if of else ""

    lines = [
        "| queue | backend | enqueue/s | drained/s | p99 ms (enqueue → start) | ran |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r.skipped:
            lines.append(f"| {r.queue} | {r.backend} | skipped: {r.skipped} | | | |")
            continue
        enq = ratio(r.enqueue_per_s, reference.enqueue_per_s if reference else None)
        drained = ratio(r.drained_per_s, reference.drained_per_s if reference else None)
        lines.append(
            f"| {r.queue} {r.version} | {r.backend} | {r.enqueue_per_s:,.0f}{enq} "
            f"| {r.drained_per_s:,.0f}{drained} | {r.latency_p99_ms:.1f} | {r.ran:,} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20_000, help="no-op jobs per queue")
    parser.add_argument("--latency-jobs", type=int, default=200, help="jobs timed one by one")
    parser.add_argument("--batch-size", type=int, default=50, help="jobs per claim")
    parser.add_argument("--concurrency", type=int, default=8, help="jobs run at once")
    parser.add_argument(
        "--queues", default="freshforce,pgqueuer,procrastinate", help="which queues to run"
    )
    parser.add_argument("--postgres-url", default=POSTGRES_ADMIN_URL, help="admin database URL")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    queues = args.queues.split(",")
    unknown = sorted(set(queues) - {"freshforce", *PEERS})
    if unknown:
        parser.error(
            f"unknown queue(s) {', '.join(unknown)}; known: freshforce, {', '.join(PEERS)}"
        )
    plan = Plan(args.jobs, args.latency_jobs, args.batch_size, args.concurrency)
    rows = run_all(plan, args.postgres_url, queues)
    machine = {"cpus": os.cpu_count(), "load": round(os.getloadavg()[0], 1)}
    if args.json:
        print(json.dumps({"machine": machine, "rows": [asdict(r) for r in rows]}, indent=2))
        return
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"\n{stamp}, {machine['cpus']} CPUs, load {machine['load']}, {args.jobs:,} jobs, ", end=""
    )
    print(f"batch {args.batch_size}, concurrency {args.concurrency}, one worker process\n")
    print(table(rows))


if __name__ == "__main__":
    main()
