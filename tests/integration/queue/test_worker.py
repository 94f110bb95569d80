import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import structlog
from prometheus_client import CollectorRegistry

from freshforce.engine import (
    JobQueue,
    JobStatus,
    Outcome,
    QueueConfig,
    QueueMetrics,
    RetryPolicy,
    Worker,
    WorkerConfig,
)
from freshforce.errors import PermanentError, TransientError
from freshforce.store.schema import cursors, jobs

FAST = WorkerConfig(concurrency=4, batch_size=8, poll_interval=0.05, shutdown_timeout=5)


def real_clock() -> datetime:
    return datetime.now(UTC)


def make_worker(queue, handlers, *, name="w1", policy=None, config=FAST, metrics=None) -> Worker:
    return Worker(
        queue,
        handlers,
        name=name,
        policy=policy or RetryPolicy.zero_wait(),
        rng=random.Random(7),
        metrics=metrics,
        config=config,
    )


async def enqueue(queue, flow, key, hints=(), **kw) -> int:
    async with queue.engine.begin() as conn:
        return await queue.enqueue(conn, flow, key, hints, **kw)


async def run_until(workers, condition, limit=20.0) -> None:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in workers]
    try:
        async with asyncio.timeout(limit):
            while not await condition():  # noqa: ASYNC110 - polls the database, not a flag
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await asyncio.gather(*tasks)


def all_finished(queue):
    async def check() -> bool:
        counts = await queue.counts()
        return counts[JobStatus.PENDING] == counts[JobStatus.RUNNING] == 0

    return check


@pytest.fixture
def live_queue(store_engine) -> JobQueue:
    return JobQueue(store_engine, clock=real_clock, config=QueueConfig(max_attempts=3))


async def test_per_key_exclusivity_with_many_workers(live_queue) -> None:
    running: dict[str, int] = {}
    overlaps: list[str] = []
    peak = 0
    done: list[tuple[str, str]] = []

    async def handler(job, ctx) -> None:
        nonlocal peak
        running[job.key] = running.get(job.key, 0) + 1
        if running[job.key] > 1:
            overlaps.append(job.key)
        peak = max(peak, sum(running.values()))
        await asyncio.sleep(0.005)
        running[job.key] -= 1
        done.append((job.flow, job.key))

    flows = ["clients", "invoices", "payments"]
    for key in range(12):
        for flow in flows:
            await enqueue(live_queue, flow, f"sf/Opportunity/{key}")
    handlers = dict.fromkeys(flows, handler)
    workers = [make_worker(live_queue, handlers, name=f"w{i}") for i in range(4)]
    await run_until(workers, all_finished(live_queue))
    assert overlaps == []
    assert sorted(done) == sorted((f, f"sf/Opportunity/{k}") for k in range(12) for f in flows)
    assert peak > 1  # different keys did run in parallel
    counts = await live_queue.counts()
    assert counts[JobStatus.DONE] == 36


async def test_effects_commit_with_the_ack_and_roll_back_on_failure(live_queue) -> None:
    async def handler(job, ctx) -> Outcome:
        async def effect(conn) -> None:
            await conn.execute(
                sa.insert(cursors).values(
                    connection_id=job.key,
                    stream="s",
                    value=str(job.attempt),
                    updated_at=real_clock(),
                )
            )
            if job.attempt == 1:
                raise TransientError("first try fails after writing")

        return Outcome.done(job, effect)

    await enqueue(live_queue, "f", "conn-1")
    await run_until([make_worker(live_queue, {"f": handler})], all_finished(live_queue))
    async with live_queue.engine.connect() as conn:
        rows = (await conn.execute(sa.select(cursors.c.connection_id, cursors.c.value))).all()
    assert [tuple(r) for r in rows] == [("conn-1", "2")]
    [job] = await live_queue.jobs()
    outcomes = [a.outcome for a in await live_queue.attempts(job.id)]
    assert outcomes == ["retry", "done"]


async def test_retry_backoff_then_dead_after_max_attempts(live_queue) -> None:
    calls: list[int] = []

    async def handler(job, ctx) -> None:
        calls.append(job.attempt)
        raise TransientError("still failing", http_status=503)

    await enqueue(live_queue, "f", "k", ["h"])
    await run_until([make_worker(live_queue, {"f": handler})], all_finished(live_queue))
    assert calls == [1, 2, 3]
    [job] = await live_queue.jobs()
    assert job.status is JobStatus.DEAD
    attempts = await live_queue.attempts(job.id)
    assert [a.outcome for a in attempts] == ["retry", "retry", "dead"]
    assert all(a.duration_ms >= 0 for a in attempts)
    assert "TransientError" in (attempts[-1].traceback or "")
    [letter] = await live_queue.dead_letters()
    assert letter.payload == {"hints": ["h"]}
    assert letter.attempts == 3
    assert "gave up after 3 attempts" in (letter.error_message or "")


async def test_backoff_uses_the_policy_and_retry_after_wins(store_engine) -> None:
    queue = JobQueue(store_engine)
    errors = {
        "plain": TransientError("5xx"),
        "limited": TransientError("429", retry_after=120.0),
    }

    async def handler(job, ctx) -> None:
        raise errors[job.key]

    await enqueue(queue, "f", "plain")
    await enqueue(queue, "f", "limited")
    worker = make_worker(queue, {"f": handler}, policy=RetryPolicy(base_delay=10.0))
    jobs = await queue.claim("w1", 10)
    now = real_clock()
    await worker._work(jobs)
    await worker._commits.close()  # the group commit of the batch has ended
    by_key = {j.key: j for j in await queue.jobs()}
    limited = by_key["limited"]
    assert now + timedelta(seconds=115) < limited.run_at < now + timedelta(seconds=125)
    assert limited.not_before == limited.run_at
    assert by_key["plain"].run_at <= now + timedelta(seconds=15)
    assert by_key["plain"].not_before is None
    assert {j.status for j in by_key.values()} == {JobStatus.PENDING}


async def test_fatal_errors_unknown_flows_and_skips(live_queue) -> None:
    async def fatal(job, ctx) -> None:
        raise PermanentError("invoice has no lines", flow="invoices", record_key=job.key)

    async def skip(job, ctx) -> Outcome:
        return Outcome.skipped(job)

    await enqueue(live_queue, "invoices", "a")
    await enqueue(live_queue, "nobody", "b")
    await enqueue(live_queue, "clients", "c")
    worker = make_worker(live_queue, {"invoices": fatal, "clients": skip})
    await run_until([worker], all_finished(live_queue))
    letters = {d.key: d for d in await live_queue.dead_letters()}
    assert letters["a"].error_class == "PermanentError"
    assert letters["a"].attempts == 1
    assert (
        letters["b"].error_message
        == "no handler for flow 'nobody' (known flows: clients, invoices)"
    )
    [skipped] = await live_queue.jobs(flow="clients")
    assert skipped.status is JobStatus.DONE
    assert [a.outcome for a in await live_queue.attempts(skipped.id)] == ["skipped"]


async def test_replay_from_dead_runs_with_the_edited_payload(live_queue) -> None:
    seen: list[tuple[int, tuple]] = []

    async def handler(job, ctx) -> None:
        seen.append((job.attempt, job.hints))
        if "fixed" not in job.hints:
            raise PermanentError("missing mapping")

    await enqueue(live_queue, "f", "k", ["broken"])
    await run_until([make_worker(live_queue, {"f": handler})], all_finished(live_queue))
    [letter] = await live_queue.dead_letters()
    assert await live_queue.edit_dead_letter(letter.id, {"hints": ["fixed"]})
    assert await live_queue.replay(letter.id) is not None
    await run_until([make_worker(live_queue, {"f": handler})], all_finished(live_queue))
    assert seen == [(1, ("broken",)), (1, ("fixed",))]
    counts = await live_queue.counts()
    assert (counts[JobStatus.DONE], counts[JobStatus.DEAD]) == (1, 1)
    assert await live_queue.dead_letters() == []


async def test_logs_carry_job_context_and_metrics_count(live_queue) -> None:
    async def handler(job, ctx) -> None:
        structlog.get_logger().info("write_skipped")

    registry = CollectorRegistry()
    await enqueue(live_queue, "clients", "fb/client/9")
    worker = make_worker(live_queue, {"clients": handler}, metrics=QueueMetrics(registry))
    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as logs:
        await run_until([worker], all_finished(live_queue))
    [job] = await live_queue.jobs()
    for event in ("write_skipped", "job_done"):
        [line] = [e for e in logs if e["event"] == event]
        assert line["job_id"] == job.id
        assert line["flow"] == "clients"
        assert line["record_key"] == "fb/client/9"
        assert line["attempt"] == 1
    labels = {"flow": "clients", "outcome": "done"}
    assert registry.get_sample_value("freshforce_jobs_finished_total", labels) == 1.0
    assert registry.get_sample_value("freshforce_job_duration_seconds_count", labels) == 1.0
    assert registry.get_sample_value("freshforce_jobs_claimed_total", {"flow": "clients"}) == 1.0


async def test_stop_releases_unstarted_and_finishes_running(store_engine) -> None:
    queue = JobQueue(store_engine, clock=real_clock)
    started = asyncio.Event()
    release = asyncio.Event()

    async def handler(job, ctx) -> None:
        started.set()
        await release.wait()

    for n in range(6):
        await enqueue(queue, "f", f"k{n}")
    config = WorkerConfig(concurrency=1, batch_size=6, poll_interval=0.05, shutdown_timeout=5)
    worker = make_worker(queue, {"f": handler}, config=config)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(started.wait(), 5)
    stop.set()
    await asyncio.sleep(0.1)
    release.set()
    await asyncio.wait_for(task, 10)
    counts = await queue.counts()
    assert (counts[JobStatus.DONE], counts[JobStatus.PENDING], counts[JobStatus.RUNNING]) == (
        1,
        5,
        0,
    )
    assert {j.attempt for j in await queue.jobs(status=JobStatus.PENDING)} == {0}
    assert worker.held == 0


async def test_postgres_notify_wakes_an_idle_worker_before_its_poll(store_engine) -> None:
    queue = JobQueue(store_engine, clock=real_clock)
    if not queue.is_postgres:
        pytest.skip("SQLite has no LISTEN/NOTIFY; its workers poll")
    ran = asyncio.Event()

    async def handler(job, ctx) -> None:
        ran.set()

    config = WorkerConfig(poll_interval=30, prune_interval=0, shutdown_timeout=5)
    stop = asyncio.Event()
    task = asyncio.create_task(make_worker(queue, {"f": handler}, config=config).run(stop))
    try:
        await asyncio.sleep(0.5)  # the worker has polled once and now sleeps for 30 s
        await enqueue(queue, "f", "k")
        await asyncio.wait_for(ran.wait(), 5)
    finally:
        stop.set()
        await task


async def test_jobs_outliving_the_shutdown_grace_are_requeued_with_the_attempt_counted(
    store_engine,
) -> None:
    queue = JobQueue(store_engine, clock=real_clock)
    started = asyncio.Event()

    async def handler(job, ctx) -> None:
        started.set()
        await asyncio.sleep(3600)

    await enqueue(queue, "f", "k")
    config = WorkerConfig(concurrency=1, poll_interval=0.05, shutdown_timeout=0.2)
    stop = asyncio.Event()
    task = asyncio.create_task(make_worker(queue, {"f": handler}, config=config).run(stop))
    await asyncio.wait_for(started.wait(), 5)
    stop.set()
    await asyncio.wait_for(task, 10)
    [job] = await queue.jobs()
    assert (job.status, job.attempt, job.locked_by) == (JobStatus.PENDING, 1, None)
    [attempt] = await queue.attempts(job.id)
    assert (attempt.outcome, attempt.error_class) == ("retry", "Interrupted")


async def test_a_lost_lease_cancels_the_handler_and_drops_its_effects(store_engine) -> None:
    queue = JobQueue(store_engine, config=QueueConfig(lease_seconds=1.5))
    started = asyncio.Event()
    cancelled = asyncio.Event()
    remote_writes: list[int] = []

    async def handler(job, ctx) -> Outcome:
        started.set()
        try:
            await asyncio.sleep(30)  # a slow remote call
        except asyncio.CancelledError:
            cancelled.set()
            raise
        remote_writes.append(job.id)
        return Outcome.done(job, lambda conn: conn.execute(sa.delete(cursors)))

    job_id = await enqueue(queue, "f", "k")
    config = WorkerConfig(concurrency=1, poll_interval=0.05, shutdown_timeout=5)
    worker = make_worker(queue, {"f": handler}, config=config)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.wait_for(started.wait(), 10)
        async with store_engine.begin() as conn:  # another worker took the job over
            await conn.execute(
                sa.update(jobs).where(jobs.c.id == job_id).values(locked_by="thief", attempts=2)
            )
        await asyncio.wait_for(cancelled.wait(), 5)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert remote_writes == []
    [job] = await queue.jobs()
    assert (job.status, job.locked_by, job.attempt) == (JobStatus.RUNNING, "thief", 2)
    assert await queue.attempts(job_id) == []


class UnreachableForHeartbeats(JobQueue):
    """A queue whose database stops answering heartbeats (claims and acks still work)."""

    async def heartbeat(self, _worker, _held):
        raise sa.exc.OperationalError("UPDATE jobs", {}, OSError("connection refused"))


async def test_heartbeat_errors_are_logged_and_cancel_the_handler_before_the_lease_ends(
    store_engine,
) -> None:
    queue = UnreachableForHeartbeats(store_engine, config=QueueConfig(lease_seconds=3.0))
    cancelled = asyncio.Event()
    started = asyncio.Event()

    async def handler(job, ctx) -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    job_id = await enqueue(queue, "f", "k")
    worker = make_worker(queue, {"f": handler})
    stop = asyncio.Event()
    with structlog.testing.capture_logs() as logs:
        task = asyncio.create_task(worker.run(stop))
        try:
            await asyncio.wait_for(started.wait(), 10)
            begun = asyncio.get_running_loop().time()
            await asyncio.wait_for(cancelled.wait(), 5)
            assert asyncio.get_running_loop().time() - begun < 3.0  # before the lease ran out
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)
    assert any(e["event"] == "heartbeat_failed" for e in logs)
    assert any(e["event"] == "lease_lost" for e in logs)
    assert await queue.attempts(job_id) == []


async def test_unexpected_exceptions_are_bugs_dead_after_three_tries(store_engine) -> None:
    queue = JobQueue(store_engine, config=QueueConfig(max_attempts=10))
    calls: list[int] = []

    async def handler(job, ctx) -> None:
        calls.append(job.attempt)
        _ = {}["missing"]

    await enqueue(queue, "f", "k")
    await run_until([make_worker(queue, {"f": handler})], all_finished(queue))
    assert calls == [1, 2, 3]
    [job] = await queue.jobs()
    assert job.status is JobStatus.DEAD
    attempts = await queue.attempts(job.id)
    assert [a.outcome for a in attempts] == ["retry", "retry", "dead"]
    assert "KeyError" in (attempts[-1].traceback or "")
    [letter] = await queue.dead_letters()
    assert letter.error_class == "KeyError"
    assert "a bug?" in (letter.error_message or "")
    assert "raise" in (letter.traceback or "") or "KeyError" in (letter.traceback or "")


async def test_shutdown_timeout_zero_does_not_wait_for_running_handlers(store_engine) -> None:
    queue = JobQueue(store_engine)
    started = asyncio.Event()

    async def handler(job, ctx) -> None:
        started.set()
        await asyncio.sleep(3600)

    await enqueue(queue, "f", "k")
    config = WorkerConfig(concurrency=1, poll_interval=0.05, shutdown_timeout=0)
    stop = asyncio.Event()
    task = asyncio.create_task(make_worker(queue, {"f": handler}, config=config).run(stop))
    await asyncio.wait_for(started.wait(), 5)
    stop.set()
    await asyncio.wait_for(task, 5)
    [job] = await queue.jobs()
    assert (job.status, job.attempt, job.locked_by) == (JobStatus.PENDING, 1, None)
    [attempt] = await queue.attempts(job.id)
    assert (attempt.outcome, attempt.error_class) == ("retry", "Interrupted")


class Batched:
    """A batch flow: one read for the batch, per-job outcomes, one job failing."""

    name = "accounts"
    batch_size = 10

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    async def run(self, jobs, ctx):
        async with ctx.read() as conn:  # no write lock: a writer may commit meanwhile
            await conn.execute(sa.select(cursors.c.connection_id))
            async with asyncio.timeout(5):
                await enqueue_other(ctx, conn)
        self.batches.append(sorted(j.key for j in jobs))
        outcomes = []
        for job in jobs:
            if job.key == "bad":
                outcomes.append(Outcome.fail(job, ValueError("no such account")))
                continue

            async def effect(conn, job=job) -> None:
                if job.key == "bad-effect":
                    raise RuntimeError("constraint")
                await conn.execute(
                    sa.insert(cursors).values(
                        connection_id=job.key, stream="s", value="1", updated_at=real_clock()
                    )
                )

            outcomes.append(Outcome.done(job, effect))
        return outcomes


async def enqueue_other(ctx, reading_conn) -> None:
    del reading_conn
    queue = JobQueue(ctx.queue.engine)
    await enqueue(queue, "other", "written-while-reading")


async def test_a_batch_flow_reads_without_the_write_lock_and_isolates_failures(
    store_engine,
) -> None:
    queue = JobQueue(store_engine, config=QueueConfig(max_attempts=1))
    keys = ["a", "b", "bad", "bad-effect", "c"]
    async with store_engine.begin() as conn:
        for key in keys:
            await queue.enqueue(conn, "accounts", key)
    flow = Batched()
    config = WorkerConfig(concurrency=2, batch_size=10, poll_interval=0.05, shutdown_timeout=5)

    async def other(_job, _ctx) -> None:
        return None

    worker = make_worker(queue, {"accounts": flow, "other": other}, config=config)
    await run_until([worker], all_finished(queue))
    assert flow.batches == [sorted(keys)]
    async with store_engine.connect() as conn:
        written = sorted((await conn.execute(sa.select(cursors.c.connection_id))).scalars())
    assert written == ["a", "b", "c"]
    status = {j.key: j.status for j in await queue.jobs(flow="accounts")}
    assert status == {
        "a": JobStatus.DONE,
        "b": JobStatus.DONE,
        "c": JobStatus.DONE,
        "bad": JobStatus.DEAD,
        "bad-effect": JobStatus.DEAD,
    }
    letters = {d.key: d for d in await queue.dead_letters()}
    assert letters["bad"].error_class == "ValueError"
    assert letters["bad-effect"].error_class == "RuntimeError"


class Tenants:
    """A batch flow that notes the tenants of each batch it is given."""

    name = "accounts"
    batch_size = 50

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    async def run(self, jobs, ctx):
        del ctx
        self.batches.append(sorted(job.tenant for job in jobs))
        return [Outcome.done(job) for job in jobs]


async def test_jobs_of_several_tenants_claimed_together_run_as_a_batch_per_tenant(
    store_engine,
) -> None:
    queue = JobQueue(store_engine, config=QueueConfig(max_attempts=1))
    async with store_engine.begin() as conn:
        for tenant in ("t1", "t2", "t3"):
            for key in ("a", "b"):
                await queue.enqueue(conn, "accounts", key, tenant=tenant)
    flow = Tenants()
    config = WorkerConfig(concurrency=3, batch_size=50, poll_interval=0.05, shutdown_timeout=5)
    worker = make_worker(queue, {"accounts": flow}, config=config)
    await run_until([worker], all_finished(queue))
    # one claim took all six; each tenant's two jobs are a batch a runner works on its own
    assert sorted(flow.batches) == [["t1", "t1"], ["t2", "t2"], ["t3", "t3"]]


class WaitsForTheNextBatch:
    """A flow whose first batch runs until a second batch has started beside it."""

    name = "f"
    batch_size = 4

    def __init__(self) -> None:
        self.batches = 0
        self.second_started = asyncio.Event()

    async def run(self, jobs, ctx):
        del ctx
        self.batches += 1
        if self.batches == 1:
            await asyncio.wait_for(self.second_started.wait(), 5)  # TimeoutError: every job retries
        else:
            self.second_started.set()
        return [Outcome.done(job) for job in jobs]


async def test_the_next_jobs_are_claimed_while_a_batch_runs(store_engine) -> None:
    # The claimer does not wait for a running batch to commit before it claims the next jobs:
    # a second runner works on them meanwhile (it used to claim again only once the running
    # batch had committed, so the two runners took turns).
    queue = JobQueue(store_engine, clock=real_clock)
    async with store_engine.begin() as conn:
        for n in range(8):
            await queue.enqueue(conn, "f", f"k{n}")
    flow = WaitsForTheNextBatch()
    config = WorkerConfig(concurrency=2, batch_size=4, poll_interval=0.05, shutdown_timeout=5)
    worker = make_worker(queue, {"f": flow}, config=config)
    await run_until([worker], all_finished(queue))
    assert flow.second_started.is_set()
    done = await queue.jobs(status=JobStatus.DONE)
    assert sorted((job.key, job.attempt) for job in done) == [(f"k{n}", 1) for n in range(8)]
    assert worker.held == 0
