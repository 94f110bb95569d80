"""Compare the job queue with pgqueuer and procrastinate, side by side in one run.

    uv run python bench/compare_queues.py                    # 20k no-op jobs per queue
    uv run python bench/compare_queues.py --workers 1,4 --rounds 3   # medians of 3 runs
    uv run python bench/compare_queues.py --backlog 10000,100000,1000000  # cost vs backlog
    uv run python bench/compare_queues.py --jobs 200 --json  # the smoke test's reduced run

Every queue gets a fresh database on the same PostgreSQL (freshforce also on SQLite), the same
number of no-op jobs with distinct keys, enqueued 100 per call (a transaction, a batch insert),
and one worker process fetching 50 jobs at a time (freshforce and procrastinate run 8 at once,
pgqueuer its default, unlimited). freshforce runs the no-op jobs as a flow, the way its own
flows (clients, invoices, payments) take their jobs: the claimed jobs in batches of the batch
size, one outcome per job, each job still leased, fenced and recorded with its attempt row; on
PostgreSQL with one process it runs them a second time through a single-job handler (one job per
call, like the peers' handlers), as a row of its own (column "handler"). Three numbers per queue:

- enqueue/s: jobs enqueued per second, one producer;
- drained/s: jobs run and recorded as finished per second, from the worker's start until the
  queue is empty;
- p99 ms: with the worker idle and listening, jobs enqueued one at a time (5 ms apart) are
  timed from the enqueue's commit to the start of their handler; the 99th percentile;
- enqueue/s with 10% repeated keys: then, with no worker running, as many jobs again in pages
  of 100 where every tenth repeats the key of a job of an earlier page, still queued. freshforce
  merges it into that pending job; pgqueuer is given the key as ``dedupe_key`` with
  ``on_conflict="skip"`` (the repeat is dropped); procrastinate has no such merge (its
  ``queueing_lock`` fails the whole batch), so the key is only the job's argument.

With ``--workers 1,4`` each queue is also drained by 4 worker processes (the same settings per
process; started, then released together; drained/s counts from the release until every job
is recorded finished). Latency is measured with one process only. ``--rounds N`` runs
everything N times, each on fresh databases, and prints the median of each figure.

``--backlog 10000,100000,1000000`` measures freshforce on PostgreSQL only: a backlog of that
many due pending jobs (filled by one ``INSERT … SELECT generate_series``, never analysed), then
a fixed number of enqueues on top (pages of 100, 10% of them repeating a key of the backlog so
they coalesce) and of claims of 50 settled done; the cost per job of each, at each size.

pgqueuer and procrastinate are the ``bench`` dependency group (``uv sync --group bench``); a
peer that is not installed is reported as skipped and the others still run.
"""

import argparse
import asyncio
import importlib.metadata
import json
import logging
import multiprocessing as mp
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import structlog

from freshforce.engine import (
    Job,
    JobQueue,
    JobRequest,
    JobStatus,
    Outcome,
    QueueConfig,
    RetryPolicy,
    Worker,
    WorkerConfig,
)
from freshforce.engine.queue import Settlement
from freshforce.store.engine import create_engine
from freshforce.store.schema import jobs, metadata

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
    workers: int = 1
    enqueue_repeated_per_s: float = 0.0
    handler: str = "job"  # "job": one job per handler call; "flow": a flow works batches


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


@dataclass(frozen=True)
class NoopFlow:
    """No-op jobs as a freshforce flow: the claimed jobs come in batches, as its flows take them.

    ``started`` is called for each job, as a peer's handler is called once per job.
    """

    started: Callable[[Job], None]
    batch_size: int
    name: str = "noop"

    async def run(self, jobs: list[Job], _ctx: object) -> list[Outcome]:
        for job in jobs:
            self.started(job)
        return [Outcome.done(job) for job in jobs]


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


def repeated_keys(count: int) -> list[str]:
    """Return ``count`` job keys of which every tenth repeats a key of an earlier page."""
    rng = random.Random(7)
    keys: list[str] = []
    for n in range(count):
        earlier = (n // PAGE) * PAGE
        keys.append(keys[rng.randrange(earlier)] if n % 10 == 9 and earlier else f"r{n}")
    return keys


async def _timed_pages(keys: list[str], enqueue_page: Callable[[list[str]], Any]) -> float:
    """Enqueue ``keys`` in pages of ``PAGE``; return the jobs per second."""
    started = time.perf_counter()
    for offset in range(0, len(keys), PAGE):
        await enqueue_page(keys[offset : offset + PAGE])
    return len(keys) / (time.perf_counter() - started)


# -- freshforce ---------------------------------------------------------------------------------


async def run_freshforce(url: str, backend: str, plan: Plan, handler: str = "flow") -> Row:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        return await _freshforce(engine, backend, plan, handler)
    finally:
        await engine.dispose()


async def _freshforce(
    engine: sa.ext.asyncio.AsyncEngine, backend: str, plan: Plan, handler: str
) -> Row:
    queue = JobQueue(engine, config=QueueConfig(lease_seconds=60))
    timings = Timings()

    def handled(job: Job) -> None:
        timings.started(float(job.hints[0]) if job.hints and job.hints[0] != "-" else None)

    async def noop(job: Job, _ctx: object) -> None:
        handled(job)

    worker = _bench_worker(queue, _noop(handler, noop, handled, plan), plan, "bench")
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

    async def page(keys: list[str]) -> None:  # the identities repeated coalesce (pending)
        async with engine.begin() as conn:
            await queue.enqueue_many(conn, [JobRequest("noop", key, ("-",)) for key in keys])

    repeated = await _timed_pages(repeated_keys(plan.jobs), page)
    return Row(
        "freshforce",
        _version("freshforce") or "?",
        backend,
        plan.jobs,
        plan.jobs / enqueue_s,
        ran / drain_s,
        _p99_ms(timings.delays),
        ran,
        enqueue_repeated_per_s=repeated,
        handler=handler,
    )


def _noop(handler: str, one: Any, started: Callable[[Job], None], plan: Plan) -> Any:  # noqa: ANN401 - a handler or a flow
    """Return the no-op jobs' handler (``job``) or flow (``flow``, batches of the plan's batch)."""
    return one if handler == "job" else NoopFlow(started, plan.batch)


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

        async def page(keys: list[str]) -> None:  # a repeated key still queued is skipped
            count = len(keys)
            await queries.enqueue(
                ["noop"] * count,
                [key.encode() for key in keys],
                [0] * count,
                dedupe_key=list(keys),
                on_conflict="skip",
            )

        repeated = await _timed_pages(repeated_keys(plan.jobs), page)
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
        enqueue_repeated_per_s=repeated,
    )


# -- procrastinate ------------------------------------------------------------------------------


async def run_procrastinate(url: str, plan: Plan) -> Row:
    import procrastinate  # noqa: PLC0415 - optional peer

    logging.getLogger("procrastinate").setLevel(logging.ERROR)
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))
    timings = Timings()

    @app.task(name="noop")
    async def noop(stamp: float | None = None, key: str | None = None) -> None:
        del key
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

        async def page(keys: list[str]) -> None:  # no merge: the key is the job's argument
            await noop.batch_defer_async(*({"key": key} for key in keys))

        repeated = await _timed_pages(repeated_keys(plan.jobs), page)
    return Row(
        "procrastinate",
        _version("procrastinate") or "?",
        "postgresql",
        plan.jobs,
        plan.jobs / enqueue_s,
        ran / drain_s,
        _p99_ms(timings.delays),
        ran,
        enqueue_repeated_per_s=repeated,
    )


# -- several worker processes -------------------------------------------------------------------


@dataclass(frozen=True)
class Signals:
    """Shared with the worker processes: ready tokens, the release, the stop, the run count."""

    ready: Any  # mp.Queue: one token per process set up
    go: Any  # mp.Event: released together
    stop: Any  # mp.Event: the parent saw every job finished (freshforce only)
    ran: Any  # mp.Value: handler runs over all processes


def _count(ran: Any) -> None:  # noqa: ANN401 - an mp.Value
    with ran.get_lock():
        ran.value += 1


def _bench_worker(queue: JobQueue, noop: Any, plan: Plan, name: str) -> Worker:  # noqa: ANN401 - a job handler
    """Return a worker of ``noop`` jobs at the plan's concurrency and batch, logging errors."""
    quiet = structlog.wrap_logger(  # bound once, not at every call (the peers log no line per job)
        structlog.PrintLogger(),
        wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR),
        cache_logger_on_first_use=True,
    )
    return Worker(
        queue,
        {"noop": noop},
        name=name,
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


async def _released(signals: Signals) -> None:
    signals.ready.put(os.getpid())
    await asyncio.to_thread(signals.go.wait)


async def _freshforce_process(url: str, plan: Plan, signals: Signals) -> None:
    engine = create_engine(url)
    queue = JobQueue(engine, config=QueueConfig(lease_seconds=60))

    def started(_job: Job) -> None:
        _count(signals.ran)

    async def noop(job: Job, _ctx: object) -> None:
        started(job)

    worker = _bench_worker(queue, _noop("flow", noop, started, plan), plan, f"bench-{os.getpid()}")
    await _released(signals)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    await asyncio.to_thread(signals.stop.wait)
    stop.set()
    await running
    await engine.dispose()


async def _pgqueuer_process(url: str, plan: Plan, signals: Signals) -> None:
    import asyncpg  # noqa: PLC0415 - asyncpg is freshforce's own driver
    from pgqueuer import Queries, QueueManager  # noqa: PLC0415 - optional peer
    from pgqueuer.db import AsyncpgDriver  # noqa: PLC0415 - optional peer
    from pgqueuer.types import QueueExecutionMode  # noqa: PLC0415 - optional peer

    consumer = await asyncpg.connect(url)
    qm = QueueManager(Queries(AsyncpgDriver(consumer)))

    @qm.entrypoint("noop")
    async def noop(_job: Any) -> None:  # noqa: ANN401 - the peer's Job
        _count(signals.ran)

    await _released(signals)
    await qm.run(batch_size=plan.batch, mode=QueueExecutionMode.drain)
    await consumer.close()


async def _procrastinate_process(url: str, plan: Plan, signals: Signals) -> None:
    import procrastinate  # noqa: PLC0415 - optional peer

    logging.getLogger("procrastinate").setLevel(logging.ERROR)
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))

    @app.task(name="noop")
    async def noop(stamp: float | None = None) -> None:  # noqa: ARG001 - the enqueued argument
        _count(signals.ran)

    async with app.open_async():
        await _released(signals)
        await app.run_worker_async(
            wait=False, concurrency=plan.concurrency, install_signal_handlers=False
        )


_PROCESSES = {
    "freshforce": _freshforce_process,
    "pgqueuer": _pgqueuer_process,
    "procrastinate": _procrastinate_process,
}


def _process_main(name: str, url: str, plan: Plan, signals: Signals) -> None:
    asyncio.run(_PROCESSES[name](url, plan, signals))


def drain_with_processes(name: str, url: str, plan: Plan, workers: int) -> tuple[float, int]:
    """Drain the enqueued jobs with ``workers`` processes; return (seconds, handler runs).

    The clock starts when every process is set up and they are released together. It stops
    when every job is recorded finished: for freshforce when the jobs table says so, for the
    peers (which drain, then exit) when every process has exited.
    """
    ctx = mp.get_context("spawn")
    signals = Signals(ctx.Queue(), ctx.Event(), ctx.Event(), ctx.Value("q", 0))
    procs = [
        ctx.Process(target=_process_main, args=(name, url, plan, signals)) for _ in range(workers)
    ]
    for proc in procs:
        proc.start()
    for _ in procs:
        signals.ready.get(timeout=120)
    started = time.perf_counter()
    signals.go.set()
    if name == "freshforce":
        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        finished = sa.select(sa.func.count()).select_from(jobs).where(jobs.c.status == "done")
        while signals.ran.value < plan.jobs:
            time.sleep(0.01)
        with engine.connect() as conn:
            while conn.execute(finished).scalar_one() < plan.jobs:
                conn.rollback()
                time.sleep(0.01)
        seconds = time.perf_counter() - started
        engine.dispose()
        signals.stop.set()
        for proc in procs:
            proc.join(60)
    else:
        for proc in procs:
            proc.join(600)
        seconds = time.perf_counter() - started
    return seconds, int(signals.ran.value)


async def _enqueue_freshforce(url: str, plan: Plan) -> float:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        queue = JobQueue(engine)
        requests = [JobRequest("noop", f"k{n}", ("-",)) for n in range(plan.jobs)]
        started = time.perf_counter()
        for offset in range(0, plan.jobs, PAGE):
            async with engine.begin() as conn:
                await queue.enqueue_many(conn, requests[offset : offset + PAGE])
        return time.perf_counter() - started
    finally:
        await engine.dispose()


async def _enqueue_pgqueuer(url: str, plan: Plan) -> float:
    import asyncpg  # noqa: PLC0415 - asyncpg is freshforce's own driver
    from pgqueuer import Queries  # noqa: PLC0415 - optional peer
    from pgqueuer.db import AsyncpgDriver  # noqa: PLC0415 - optional peer

    producer = await asyncpg.connect(url)
    try:
        queries = Queries(AsyncpgDriver(producer))
        await queries.install()
        started = time.perf_counter()
        for offset in range(0, plan.jobs, PAGE):
            count = min(PAGE, plan.jobs - offset)
            await queries.enqueue(["noop"] * count, [None] * count, [0] * count)
        return time.perf_counter() - started
    finally:
        await producer.close()


async def _enqueue_procrastinate(url: str, plan: Plan) -> float:
    import procrastinate  # noqa: PLC0415 - optional peer

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))

    @app.task(name="noop")
    async def noop(stamp: float | None = None) -> None:  # pragma: no cover - run by the workers
        del stamp

    async with app.open_async():
        await app.schema_manager.apply_schema_async()
        started = time.perf_counter()
        for offset in range(0, plan.jobs, PAGE):
            count = min(PAGE, plan.jobs - offset)
            await noop.batch_defer_async(*({} for _ in range(count)))
        return time.perf_counter() - started


_ENQUEUES = {
    "freshforce": _enqueue_freshforce,
    "pgqueuer": _enqueue_pgqueuer,
    "procrastinate": _enqueue_procrastinate,
}


def run_processes(name: str, version: str, url: str, plan: Plan, workers: int) -> Row:
    """One queue on PostgreSQL with ``workers`` processes: enqueue, then drain (no latency)."""
    enqueue_s = asyncio.run(_ENQUEUES[name](url, plan))
    drain_s, ran = drain_with_processes(name, url, plan, workers)
    return Row(
        name,
        version,
        "postgresql",
        plan.jobs,
        plan.jobs / enqueue_s,
        ran / drain_s,
        0.0,
        ran,
        workers=workers,
        handler="flow" if name == "freshforce" else "job",
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


def run_all(plan: Plan, admin_url: str, queues: list[str], workers: list[int]) -> list[Row]:
    """One round: every queue with every process count, each on a fresh database."""
    rows: list[Row] = []
    for name in queues:
        package = "freshforce" if name == "freshforce" else PEERS[name][0]
        version = _version(package)
        if version is None:
            reason = f"{package} is not installed (uv sync --group bench)"
            print(f"skipping {name}: {reason}", file=sys.stderr, flush=True)
            rows.append(Row(name, "-", "postgresql", plan.jobs, skipped=reason))
            continue
        for count in workers:
            if count > 1:
                rows.append(
                    _fresh_postgres(
                        admin_url,
                        lambda url, q=name, v=version, n=count: run_processes(q, v, url, plan, n),
                    )
                )
                continue
            if name == "freshforce":
                rows.extend(
                    _fresh_postgres(
                        admin_url,
                        lambda url, h=handler: asyncio.run(
                            run_freshforce(url, "postgresql", plan, h)
                        ),
                    )
                    for handler in ("flow", "job")
                )
                with tempfile.TemporaryDirectory() as tmp:
                    url = f"sqlite+aiosqlite:///{tmp}/bench.db"
                    rows.append(asyncio.run(run_freshforce(url, "sqlite", plan)))
                continue
            runner = PEERS[name][1]
            rows.append(
                _fresh_postgres(admin_url, lambda url, run=runner: asyncio.run(run(url, plan)))
            )
    return rows


def medians(rounds: list[list[Row]]) -> list[Row]:
    """Return the median of each figure over the rounds (rows match by position)."""
    if len(rounds) == 1:
        return rounds[0]
    merged: list[Row] = []
    for group in zip(*rounds, strict=True):
        first = group[0]
        if first.skipped:
            merged.append(first)
            continue
        merged.append(
            replace(
                first,
                enqueue_per_s=statistics.median(r.enqueue_per_s for r in group),
                enqueue_repeated_per_s=statistics.median(r.enqueue_repeated_per_s for r in group),
                drained_per_s=statistics.median(r.drained_per_s for r in group),
                latency_p99_ms=statistics.median(r.latency_p99_ms for r in group),
                ran=min(r.ran for r in group),
            )
        )
    return merged


_HANDLERS = {"flow": "flow, batches", "job": "one job per call"}


def table(rows: list[Row]) -> str:
    references = {r.workers: r for r in rows if r.queue == "pgqueuer" and not r.skipped}

    def ratio(value: float, of: float | None) -> str:
        return f" ({value / of:.2f}x)" if of else ""

    lines = [
        (
            "| queue | handler | backend | processes | enqueue/s | enqueue/s, 10% repeated keys "
            "| drained/s | p99 ms (enqueue → start) | ran |"
        ),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r.skipped:
            lines.append(f"| {r.queue} | | {r.backend} | | skipped: {r.skipped} | | | | |")
            continue
        reference = references.get(r.workers)
        enq = ratio(r.enqueue_per_s, reference.enqueue_per_s if reference else None)
        drained = ratio(r.drained_per_s, reference.drained_per_s if reference else None)
        repeated = "-"
        if r.enqueue_repeated_per_s:
            of = reference.enqueue_repeated_per_s if reference else None
            repeated = f"{r.enqueue_repeated_per_s:,.0f}{ratio(r.enqueue_repeated_per_s, of)}"
        p99 = f"{r.latency_p99_ms:.1f}" if r.workers == 1 else "-"
        lines.append(
            f"| {r.queue} {r.version} | {_HANDLERS[r.handler]} | {r.backend} | {r.workers} "
            f"| {r.enqueue_per_s:,.0f}{enq} "
            f"| {repeated} | {r.drained_per_s:,.0f}{drained} | {p99} | {r.ran:,} |"
        )
    return "\n".join(lines)


# -- cost against the pending backlog -----------------------------------------------------------

_FILL = sa.text(
    "INSERT INTO jobs (tenant, flow, key, status, priority, hints, attempts, max_attempts, "
    "run_at, created_at, updated_at) "
    "SELECT 'default', 'noop', 'b' || g, 'pending', 0, '[]', 0, 10, now(), now(), now() "
    "FROM generate_series(CAST(:first AS INTEGER), CAST(:last AS INTEGER)) AS g"
)


@dataclass(frozen=True)
class BacklogRow:
    """Cost per job of enqueue and claim with ``pending`` jobs waiting."""

    pending: int
    fill_s: float
    enqueue_us: float
    claim_us: float
    settle_us: float


async def _enqueue_claim_settle(
    engine: sa.ext.asyncio.AsyncEngine, queue: JobQueue, requests: list[JobRequest]
) -> tuple[float, float, float, int]:
    """Enqueue ``requests`` in pages, then claim 50 at a time and settle done as many jobs.

    Return the seconds spent enqueueing, claiming and settling, and the jobs claimed.
    """
    started = time.perf_counter()
    for offset in range(0, len(requests), PAGE):
        async with engine.begin() as conn:
            await queue.enqueue_many(conn, requests[offset : offset + PAGE])
    enqueue_s = time.perf_counter() - started
    claim_s = settle_s = 0.0
    claimed = 0
    while claimed < len(requests):
        started = time.perf_counter()
        taken = await queue.claim("bench", 50)
        claim_s += time.perf_counter() - started
        started = time.perf_counter()
        await queue.settle("bench", [Settlement(j, "done", 0.0) for j in taken])
        settle_s += time.perf_counter() - started
        claimed += len(taken)
    return enqueue_s, claim_s, settle_s, claimed


async def _backlog_sizes(url: str, sizes: list[int], ops: int) -> list[BacklogRow]:
    engine = create_engine(url)
    rng = random.Random(1)
    rows: list[BacklogRow] = []
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        queue = JobQueue(engine, config=QueueConfig(lease_seconds=60))
        # Unmeasured: every statement prepared and past PostgreSQL's five custom plans, so the
        # first size does not pay what the others do not.
        await _enqueue_claim_settle(
            engine, queue, [JobRequest("noop", f"w{n}") for n in range(500)]
        )
        filled = 0
        for size in sorted(sizes):
            started = time.perf_counter()
            if size > filled:
                async with engine.begin() as conn:
                    await conn.execute(_FILL, {"first": filled + 1, "last": size})
                filled = size
            fill_s = time.perf_counter() - started
            # 90% new keys, 10% repeating a key of the backlog (they coalesce into its job).
            requests = [
                JobRequest("noop", f"b{rng.randint(1, size)}" if n % 10 == 0 else f"n{size}-{n}")
                for n in range(ops)
            ]
            enqueue_s, claim_s, settle_s, claimed = await _enqueue_claim_settle(
                engine, queue, requests
            )
            rows.append(
                BacklogRow(
                    size,
                    fill_s,
                    enqueue_s / ops * 1e6,
                    claim_s / claimed * 1e6,
                    settle_s / claimed * 1e6,
                )
            )
            print(f"backlog {size:,}: {rows[-1]}", file=sys.stderr, flush=True)
    finally:
        await engine.dispose()
    return rows


def backlog_table(rows: list[BacklogRow]) -> str:
    base = rows[0]
    lines = [
        "| pending backlog | enqueue µs/job | claim µs/job | settle µs/job | fill s |",
        "|---|---|---|---|---|",
    ]
    lines.extend(
        f"| {r.pending:,} | {r.enqueue_us:,.0f} ({r.enqueue_us / base.enqueue_us:.2f}x) "
        f"| {r.claim_us:,.0f} ({r.claim_us / base.claim_us:.2f}x) "
        f"| {r.settle_us:,.0f} ({r.settle_us / base.settle_us:.2f}x) | {r.fill_s:.1f} |"
        for r in rows
    )
    return "\n".join(lines)


def backlog_main(sizes: list[int], ops: int, admin_url: str, *, as_json: bool) -> None:
    load = round(os.getloadavg()[0], 1)
    holder: list[list[BacklogRow]] = []

    def body(url: str) -> Row:
        holder.append(asyncio.run(_backlog_sizes(url, sizes, ops)))
        return Row("freshforce", _version("freshforce") or "?", "postgresql", ops)

    _fresh_postgres(admin_url, body)
    rows = holder[0]
    machine = {"cpus": os.cpu_count(), "load_start": load, "load": round(os.getloadavg()[0], 1)}
    if as_json:
        print(json.dumps({"machine": machine, "backlog": [asdict(r) for r in rows]}, indent=2))
        return
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"\n{stamp}, {machine['cpus']} CPUs, load {load} -> {machine['load']}, freshforce on "
        f"PostgreSQL, {ops:,} enqueues (10% coalescing) and {ops:,} jobs claimed 50 at a time "
        "and settled done, per backlog size\n"
    )
    print(backlog_table(rows))


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
    parser.add_argument("--workers", default="1", help="worker process counts, e.g. 1,4")
    parser.add_argument("--rounds", type=int, default=1, help="runs; the table shows medians")
    parser.add_argument(
        "--backlog", default="", help="pending backlog sizes, e.g. 10000,100000,1000000"
    )
    parser.add_argument(
        "--backlog-ops", type=int, default=2000, help="enqueues and claimed jobs per backlog size"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    if args.backlog:
        sizes = [int(n) for n in args.backlog.split(",")]
        backlog_main(sizes, args.backlog_ops, args.postgres_url, as_json=args.json)
        return
    queues = args.queues.split(",")
    unknown = sorted(set(queues) - {"freshforce", *PEERS})
    if unknown:
        parser.error(
            f"unknown queue(s) {', '.join(unknown)}; known: freshforce, {', '.join(PEERS)}"
        )
    plan = Plan(args.jobs, args.latency_jobs, args.batch_size, args.concurrency)
    workers = [int(n) for n in args.workers.split(",")]
    load = round(os.getloadavg()[0], 1)
    rows = medians(
        [run_all(plan, args.postgres_url, queues, workers) for _ in range(max(args.rounds, 1))]
    )
    machine = {"cpus": os.cpu_count(), "load_start": load, "load": round(os.getloadavg()[0], 1)}
    if args.json:
        print(json.dumps({"machine": machine, "rows": [asdict(r) for r in rows]}, indent=2))
        return
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"\n{stamp}, {machine['cpus']} CPUs, load {load} -> {machine['load']}, "
        f"{args.jobs:,} jobs, batch {args.batch_size}, concurrency {args.concurrency} per "
        f"process, {args.rounds} round(s) (medians)\n"
    )
    print(table(rows))


if __name__ == "__main__":
    main()
