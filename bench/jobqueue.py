"""Benchmark the job queue: enqueue, claim+ack throughput and per-job overhead, both backends.

    uv run python bench/queue.py                      # 100k jobs, SQLite and PostgreSQL, 1 and 4
    uv run python bench/queue.py --jobs 2000 --json   # the smoke test's reduced run

N enqueues hit 90% distinct keys and 10% repeats (``--repeat-keys``; they coalesce), committed
100 per transaction like an intake page. Then W worker processes, each a real ``Worker`` with a
no-op handler, drain the queue. Per-job overhead is the worker's own time for one job (connection,
transaction, ack, attempt row, commit) with a handler that does nothing. Every config runs on a
fresh database. The run checks that every distinct key ran exactly once.
"""

import argparse
import asyncio
import json
import logging
import multiprocessing as mp
import os
import random
import resource
import signal
import statistics
import subprocess
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog
from prometheus_client import CollectorRegistry

from freshforce.engine import (
    JobQueue,
    JobRequest,
    JobStatus,
    QueueConfig,
    QueueMetrics,
    RetryPolicy,
    Worker,
    WorkerConfig,
)
from freshforce.store.engine import create_engine
from freshforce.store.schema import attempts, jobs, metadata

POSTGRES_ADMIN_URL = os.environ.get(
    "FRESHFORCE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
ENQUEUE_PER_TX = 100
FLOW = "clients"


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Result:
    """One row of the table."""

    backend: str
    workers: int
    enqueued: int
    distinct: int
    enqueue_per_s: float
    drain_per_s: float
    overhead_p50_ms: float
    overhead_p95_ms: float
    overhead_p99_ms: float
    max_worker_rss_mb: float
    done: int
    runs: int
    duplicates: int


class _TimedMetrics(QueueMetrics):
    """QueueMetrics that also keeps each job's raw worker time, for exact percentiles."""

    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__(registry)
        self.samples: list[float] = []

    def job_finished(self, flow: str, outcome: str, seconds: float) -> None:
        super().job_finished(flow, outcome, seconds)
        self.samples.append(seconds)


def _keys(jobs: int, rng: random.Random, repeat: float) -> list[str]:
    distinct = jobs - round(jobs * repeat)
    keys = [f"sf/Account/{i:07d}" for i in range(distinct)]
    keys += rng.choices(keys, k=jobs - distinct)
    rng.shuffle(keys)
    return keys


async def _enqueue_all(url: str, keys: list[str]) -> float:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        queue = JobQueue(engine, clock=now)
        requests = [JobRequest(FLOW, key, (f"event-{n}",)) for n, key in enumerate(keys)]
        started = time.perf_counter()
        for offset in range(0, len(keys), ENQUEUE_PER_TX):
            async with engine.begin() as conn:
                await queue.enqueue_many(conn, requests[offset : offset + ENQUEUE_PER_TX])
        return time.perf_counter() - started
    finally:
        await engine.dispose()


async def _noop(_job: object, _conn: object) -> None:
    return None


async def _work(url: str, batch: int, concurrency: int, sync: Any) -> list[float]:  # noqa: ANN401 - mp proxies
    engine = create_engine(url)
    metrics = _TimedMetrics(CollectorRegistry())
    quiet = structlog.wrap_logger(
        structlog.PrintLogger(), wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR)
    )
    worker = Worker(
        JobQueue(engine, clock=now, config=QueueConfig(lease_seconds=60)),
        {FLOW: _noop},
        name=f"bench-{os.getpid()}",
        policy=RetryPolicy.zero_wait(),
        rng=random.Random(os.getpid()),
        metrics=metrics,
        config=WorkerConfig(
            concurrency=concurrency, batch_size=batch, poll_interval=0.05, prune_interval=0
        ),
        logger=quiet,
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with engine.connect() as conn:  # open the pool before the clock starts
        await conn.execute(sa.text("SELECT 1"))
    ready, go = sync
    ready.put(os.getpid())  # SIGTERM is handled from here on
    await asyncio.to_thread(go.wait)
    await worker.run(stop)
    await engine.dispose()
    return metrics.samples


def _child(url: str, batch: int, concurrency: int, sync: Any, out: Any) -> None:  # noqa: ANN401 - mp proxies
    samples = asyncio.run(_work(url, batch, concurrency, sync))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.put((samples, rss_mb))


# Whether any job is still pending or running: one index probe, not a count of the table, so
# polling it every 50 ms does not load the database being measured.
_UNFINISHED = sa.select(
    sa.exists().where(jobs.c.status.in_([JobStatus.PENDING.value, JobStatus.RUNNING.value]))
)


async def _remaining(engine: sa.ext.asyncio.AsyncEngine) -> bool:
    async with engine.connect() as conn:
        return bool((await conn.execute(_UNFINISHED)).scalar())


async def _drain(url: str, workers: int, batch: int, concurrency: int) -> tuple[float, list]:
    ctx = mp.get_context("spawn")
    ready, go, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_child, args=(url, batch, concurrency, (ready, go), out))
        for _ in range(workers)
    ]
    for proc in procs:
        proc.start()
    for _ in procs:  # every worker imported, connected and handling SIGTERM
        await asyncio.to_thread(ready.get, timeout=300)
    engine = create_engine(url)
    try:
        started = time.perf_counter()
        go.set()
        while await _remaining(engine):  # noqa: ASYNC110 - polls the database
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
    finally:
        await engine.dispose()
    for proc in procs:
        os.kill(proc.pid or 0, signal.SIGTERM)
    reports = [await asyncio.to_thread(out.get, timeout=120) for _ in procs]
    for proc in procs:
        proc.join(30)
    return elapsed, reports


async def _tally(url: str) -> tuple[int, int, int]:
    engine = create_engine(url)
    try:
        queue = JobQueue(engine, clock=now)
        done = (await queue.counts())[JobStatus.DONE]
        async with engine.connect() as conn:
            runs = (await conn.execute(sa.select(sa.func.count()).select_from(attempts))).scalar()
            twice = (
                await conn.execute(
                    sa.select(sa.func.count()).select_from(
                        sa.select(attempts.c.job_id)
                        .group_by(attempts.c.job_id)
                        .having(sa.func.count() > 1)
                        .subquery()
                    )
                )
            ).scalar()
        return done, int(runs or 0), int(twice or 0)
    finally:
        await engine.dispose()


def _percentile(samples: list[float], q: float) -> float:
    if not samples:
        return 0.0
    cuts = statistics.quantiles(samples, n=1000, method="inclusive")
    return cuts[round(q * 1000) - 1] * 1000.0


@dataclass(frozen=True)
class Config:
    """One row to measure."""

    backend: str
    workers: int
    jobs: int
    batch: int
    concurrency: int
    repeat: float = 0.1


def run_config(url: str, config: Config) -> Result:
    """Enqueue, drain and check one configuration on the fresh database at ``url``."""
    keys = _keys(config.jobs, random.Random(42), config.repeat)
    enqueue_s = asyncio.run(_enqueue_all(url, keys))
    elapsed, reports = asyncio.run(_drain(url, config.workers, config.batch, config.concurrency))
    done, runs, twice = asyncio.run(_tally(url))
    samples = [s for report in reports for s in report[0]]
    return Result(
        backend=config.backend,
        workers=config.workers,
        enqueued=config.jobs,
        distinct=len(set(keys)),
        enqueue_per_s=config.jobs / enqueue_s,
        drain_per_s=done / elapsed,
        overhead_p50_ms=_percentile(samples, 0.50),
        overhead_p95_ms=_percentile(samples, 0.95),
        overhead_p99_ms=_percentile(samples, 0.99),
        max_worker_rss_mb=max(report[1] for report in reports),
        done=done,
        runs=runs,
        duplicates=twice,
    )


def _with_database(backend: str, admin_url: str, body: Any) -> Result:  # noqa: ANN401 - callable
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            return body(f"sqlite+aiosqlite:///{tmp}/bench.db")
    name = f"ff_bench_{uuid.uuid4().hex[:10]}"
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


def _table(results: list[Result]) -> str:
    head = (
        "| backend | worker procs | enqueued (distinct) | enqueue jobs/s | claim+ack jobs/s "
        "| overhead p50 / p95 / p99 ms | max worker RSS MB | runs / done / run twice |"
    )
    lines = [head, "|" + "---|" * 8]
    lines += [
        f"| {r.backend} | {r.workers} | {r.enqueued:,} ({r.distinct:,}) | {r.enqueue_per_s:,.0f} "
        f"| {r.drain_per_s:,.0f} | {r.overhead_p50_ms:.2f} / {r.overhead_p95_ms:.2f} / "
        f"{r.overhead_p99_ms:.2f} | {r.max_worker_rss_mb:.0f} | {r.runs:,} / {r.done:,} / "
        f"{r.duplicates} |"
        for r in results
    ]
    return "\n".join(lines)


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH is intended
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _cpu_reference() -> float:
    """Seconds a fixed pure-Python loop takes: how busy the machine was, to scale the table."""
    started = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000, help="enqueues per config")
    parser.add_argument("--backends", default="sqlite,postgres", help="sqlite,postgres")
    parser.add_argument("--workers", default="1,4", help="worker process counts, e.g. 1,4")
    parser.add_argument(
        "--repeat-keys", type=float, default=0.1, help="share of enqueues repeating a key (0-0.9)"
    )
    parser.add_argument("--batch-size", type=int, default=50, help="jobs per claim")
    parser.add_argument("--concurrency", type=int, default=8, help="runners per process")
    parser.add_argument("--postgres-url", default=POSTGRES_ADMIN_URL, help="admin database URL")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    if args.jobs < 10:
        parser.error("--jobs must be at least 10")
    if not 0 <= args.repeat_keys <= 0.9:
        parser.error(f"--repeat-keys must be between 0 and 0.9, got {args.repeat_keys}")
    results: list[Result] = []
    for backend in args.backends.split(","):
        for workers in (int(w) for w in args.workers.split(",")):
            config = Config(
                backend, workers, args.jobs, args.batch_size, args.concurrency, args.repeat_keys
            )

            def body(url: str, config: Config = config) -> Result:
                return run_config(url, config)

            results.append(_with_database(backend, args.postgres_url, body))
            if not args.json:
                print(_table(results[-1:]).splitlines()[-1], flush=True)
    if args.json:
        machine = {"cpus": os.cpu_count(), "load": os.getloadavg()[0], "commit": _commit()}
        print(json.dumps({"machine": machine, "results": [asdict(r) for r in results]}, indent=2))
        return
    print(f"\ncommit {_commit()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, ", end="")
    print(f"10M-step Python loop {_cpu_reference():.2f} s, batch {args.batch_size}, ", end="")
    print(f"{args.concurrency} runners per process, {ENQUEUE_PER_TX} enqueues per transaction\n")
    print(_table(results))


if __name__ == "__main__":
    main()
