"""The worker: claim jobs in batches, run their flow's handler, ack, retry or bury each one.

One process runs one ``Worker`` with ``concurrency`` async runners fed by a single claimer that
leases jobs in batches. A heartbeat extends the leases the worker holds; on PostgreSQL a
``LISTEN`` wakes the claimer when work arrives, and polling is the fallback on both backends.

A handler is ``async handler(job, conn)``: ``conn``'s transaction also acks the job, so the
handler's local effects and the ack commit together. A handler that never touches ``conn`` has
no local effects; its ack is grouped with the other runners' in one transaction (engine/acks.py).
The job's transaction begins at the handler's first statement; on SQLite it holds the
database's write lock until the ack, so a handler should call remote systems before it writes
(reads can use a connection of their own). It returns
``None`` (done) or ``JobResult.SKIPPED``, or raises a ``freshforce.errors`` class;
``RetryPolicy`` decides what follows. Stopping (``stop`` set, e.g. on SIGTERM) claims no more,
gives back the leases of jobs not yet started, lets running ones finish within
``shutdown_timeout`` and requeues the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection
from structlog.typing import FilteringBoundLogger

from freshforce.engine.acks import AckBatcher
from freshforce.engine.metrics import QueueMetrics
from freshforce.engine.queue import Job, JobQueue
from freshforce.engine.retry import Bury, RetryPolicy
from freshforce.store.notify import listen
from freshforce.store.queue import NOTIFY_CHANNEL

__all__ = ["Handler", "JobResult", "Worker", "WorkerConfig"]


class JobResult(StrEnum):
    """What a handler that did not raise reports: the job is done, or there was nothing to do."""

    DONE = "done"
    SKIPPED = "skipped"


Handler = Callable[[Job, AsyncConnection], Awaitable[JobResult | None]]

# Errors of the store itself while recording an outcome: the lease runs out and the job returns.
_STORE_ERRORS = (sa.exc.SQLAlchemyError, OSError)


@dataclass(frozen=True)
class WorkerConfig:
    """How a worker process runs: parallel jobs, batch size, polling and shutdown timing."""

    concurrency: int = 4
    batch_size: int = 20
    poll_interval: float = 1.0
    shutdown_timeout: float = 30.0
    prune_interval: float = 300.0
    listen: bool = True

    def __post_init__(self) -> None:
        if self.concurrency < 1 or self.batch_size < 1:
            msg = f"concurrency and batch_size must be >= 1, got {self!r}"
            raise ValueError(msg)
        if self.poll_interval <= 0 or self.shutdown_timeout < 0:
            msg = f"poll_interval must be > 0 and shutdown_timeout >= 0, got {self!r}"
            raise ValueError(msg)


@dataclass(frozen=True)
class _AckPending:
    """A job whose handler is done and whose ack waits for the next group commit."""

    outcome: str
    done: asyncio.Future[bool]


class _LeaseLostError(Exception):
    """Raised inside a job's transaction to roll its effects back when the ack finds no lease."""


class Worker:
    """One worker process's engine: a claimer, ``concurrency`` runners, a heartbeat, a pruner."""

    def __init__(
        self,
        queue: JobQueue,
        handlers: Mapping[str, Handler],
        *,
        name: str,
        policy: RetryPolicy,
        rng: random.Random,
        metrics: QueueMetrics | None = None,
        config: WorkerConfig | None = None,
        logger: FilteringBoundLogger | None = None,
    ) -> None:
        self.queue = queue
        self.handlers = dict(handlers)
        self.name = name
        self.policy = policy
        self.rng = rng
        self.metrics = metrics
        self.config = config or WorkerConfig()
        self.log: FilteringBoundLogger = logger or structlog.get_logger("freshforce.worker")
        self._held: dict[int, Job] = {}
        self._buffer: asyncio.Queue[Job | None] = asyncio.Queue()
        self._wake = asyncio.Event()
        self._interrupted: list[Job] = []
        self._acks = AckBatcher(queue, name)
        self._settling: set[asyncio.Task[None]] = set()

    @property
    def held(self) -> int:
        """How many leases this worker holds now (buffered and running)."""
        return len(self._held)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set, then shut down gracefully."""
        self.log.info("worker_started", worker=self.name, concurrency=self.config.concurrency)
        close_listener = await self._listen()
        runners = [asyncio.create_task(self._runner()) for _ in range(self.config.concurrency)]
        background = [asyncio.create_task(self._heartbeat(stop))]
        if self.config.prune_interval > 0:
            background.append(asyncio.create_task(self._prune(stop)))
        try:
            await self._claimer(stop)
        finally:
            self.log.info("worker_stopping", worker=self.name, held=self.held)
            await self._drain(runners)
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            if close_listener is not None:
                await close_listener()
            self.log.info("worker_stopped", worker=self.name)

    async def _listen(self) -> Callable[[], Awaitable[None]] | None:
        if not (self.config.listen and self.queue.is_postgres):
            return None
        closer = await listen(self.queue.engine.url, NOTIFY_CHANNEL, self._wake)
        if closer is None:
            self.log.warning("listen_failed", worker=self.name)
        return closer

    def _limit(self) -> int:
        return max(self.config.batch_size, self.config.concurrency)

    def _wants_more(self) -> bool:
        # Claim again once half the leases are used up, so claims stay batches, not singles.
        return len(self._held) <= self._limit() // 2

    async def _claimer(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            want = self._limit() - len(self._held)
            got = await self._claim(want) if self._wants_more() else 0
            if got == 0 or got < want:
                await self._sleep(stop)

    async def _claim(self, want: int) -> int:
        try:
            jobs = await self.queue.claim(self.name, want)
        except _STORE_ERRORS as exc:
            self.log.warning("claim_failed", error=type(exc).__name__, detail=str(exc)[:200])
            return 0
        now = self.queue.clock()
        for job in jobs:
            self._held[job.id] = job
            self._buffer.put_nowait(job)
            if self.metrics is not None:
                self.metrics.job_claimed(job.flow, (now - job.run_at).total_seconds())
        if jobs:
            self.log.debug("jobs_claimed", worker=self.name, count=len(jobs))
        if self.metrics is not None:
            self.metrics.in_flight.set(len(self._held))
        return len(jobs)

    async def _sleep(self, stop: asyncio.Event) -> None:
        waits = [asyncio.create_task(self._wake.wait()), asyncio.create_task(stop.wait())]
        try:
            await asyncio.wait(
                waits, timeout=self.config.poll_interval, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for task in waits:
                task.cancel()
            self._wake.clear()

    async def _runner(self) -> None:
        while True:
            job = await self._buffer.get()
            if job is None:
                return
            acking = False
            try:
                acking = await self._execute(job)
            except asyncio.CancelledError:
                self._interrupted.append(job)  # cut off at shutdown: requeued by _drain
                raise
            finally:
                if not acking:
                    self._release(job)

    def _release(self, job: Job) -> None:
        """Forget a job whose outcome is recorded (or lost), and claim more when running low."""
        self._held.pop(job.id, None)
        if self.metrics is not None:
            self.metrics.in_flight.set(len(self._held))
        if self._wants_more():
            self._wake.set()

    async def _execute(self, job: Job) -> bool:
        """Run one job; True when its ack is still being committed (then ``_settle`` ends it)."""
        started_at = self.queue.clock()
        t0 = time.perf_counter()
        with structlog.contextvars.bound_contextvars(
            job_id=job.id, flow=job.flow, record_key=job.key, attempt=job.attempt
        ):
            self.log.debug("job_claimed", worker=self.name)
            try:
                ran = await self._attempt(job, started_at)
            except _LeaseLostError:
                ran = "lost_lease"
                self.log.warning("job_lease_lost", worker=self.name)
            except Exception as exc:  # noqa: BLE001 - the worker's one outer catch; classified next
                ran = await self._record_failure(job, exc, started_at)
            if isinstance(ran, _AckPending):
                # The runner moves on; the job stays held (and heartbeated) until its ack commits.
                task = asyncio.create_task(self._settle(job, ran, started_at, t0))
                self._settling.add(task)
                task.add_done_callback(self._settling.discard)
                return True
            self._finished(job, ran, t0)
        return False

    async def _settle(
        self, job: Job, pending: _AckPending, started_at: datetime, t0: float
    ) -> None:
        try:
            try:
                acked = await pending.done
            except Exception as exc:  # noqa: BLE001 - the batch's store error, classified next
                outcome = await self._record_failure(job, exc, started_at)
            else:
                outcome = pending.outcome if acked else "lost_lease"
                if acked:
                    self.log.info("job_done", outcome=outcome)
                else:
                    self.log.warning("job_lease_lost", worker=self.name)
            self._finished(job, outcome, t0)
        finally:
            self._release(job)

    def _finished(self, job: Job, outcome: str, t0: float) -> None:
        if self.metrics is not None:
            self.metrics.job_finished(job.flow, outcome, time.perf_counter() - t0)

    async def _attempt(self, job: Job, started_at: datetime) -> str | _AckPending:
        handler = self.handlers.get(job.flow)
        if handler is None:
            known = ", ".join(sorted(self.handlers)) or "none"
            return await self._bury_now(
                job, started_at, f"no handler for flow {job.flow!r} (known flows: {known})"
            )
        if job.attempt > job.max_attempts:
            return await self._bury_now(
                job, started_at, f"lease lost on every one of {job.max_attempts} attempts"
            )
        # The transaction begins at the handler's first statement (SQLAlchemy autobegin), so on
        # SQLite the write lock is not held while the handler only talks to remote systems.
        async with self.queue.engine.connect() as conn:
            result = await handler(job, conn)
            outcome = (result or JobResult.DONE).value
            if not conn.in_transaction():
                # No local effects: the ack joins the next group commit (engine/acks.py).
                done = self._acks.submit(job, started_at=started_at, outcome=outcome)
                return _AckPending(outcome, done)
            await self._ack_with_effects(conn, job, started_at, outcome)
        self.log.info("job_done", outcome=outcome)
        return outcome

    async def _ack_with_effects(
        self, conn: AsyncConnection, job: Job, started_at: datetime, outcome: str
    ) -> None:
        # The handler used its connection: its effects and the ack commit in one transaction.
        if not await self.queue.complete(
            conn, job, self.name, started_at=started_at, outcome=outcome
        ):
            await conn.rollback()
            raise _LeaseLostError
        await conn.commit()

    async def _bury_now(self, job: Job, started_at: datetime, reason: str) -> str:
        letter = await self.queue.bury(
            job,
            self.name,
            started_at=started_at,
            error_class="PermanentError",
            error_message=reason,
        )
        if letter is None:
            raise _LeaseLostError
        self.log.warning("job_dead", reason=reason, dead_letter_id=letter)
        return "dead"

    async def _record_failure(self, job: Job, exc: Exception, started_at: datetime) -> str:
        age = (self.queue.clock() - job.created_at).total_seconds()
        decision = self.policy.decide(
            exc, attempt=job.attempt, max_attempts=job.max_attempts, age=age, rng=self.rng
        )
        error_class = type(exc).__name__
        message = str(exc) or error_class
        trace = "".join(traceback.format_exception(exc))
        try:
            if isinstance(decision, Bury):
                letter = await self.queue.bury(
                    job,
                    self.name,
                    started_at=started_at,
                    error_class=error_class,
                    error_message=f"{message} ({decision.reason})",
                    traceback=trace,
                )
                ok, outcome = letter is not None, "dead"
                self.log.warning(
                    "job_dead", error=error_class, reason=decision.reason, dead_letter_id=letter
                )
            else:
                ok = await self.queue.retry(
                    job,
                    self.name,
                    delay=decision.delay,
                    started_at=started_at,
                    error_class=error_class,
                    error_message=message,
                    traceback=trace,
                )
                outcome = "retry"
                self.log.info("job_retry_scheduled", error=error_class, delay=decision.delay)
        except _STORE_ERRORS as store_exc:
            self.log.exception("job_failure_not_recorded", error=type(store_exc).__name__)
            return "lost_lease"
        if not ok:
            self.log.warning("job_lease_lost", worker=self.name)
            return "lost_lease"
        return outcome

    async def _drain(self, runners: list[asyncio.Task[None]]) -> None:
        unstarted: list[Job] = []
        while not self._buffer.empty():
            job = self._buffer.get_nowait()
            if job is not None:
                unstarted.append(job)
                self._held.pop(job.id, None)
        for _ in runners:
            self._buffer.put_nowait(None)
        released = await self._give_back(unstarted)
        _, pending = await asyncio.wait(runners, timeout=self.config.shutdown_timeout or None)
        for task in pending:
            task.cancel()
        await asyncio.gather(*runners, return_exceptions=True)
        await asyncio.gather(*self._settling, return_exceptions=True)
        await self._acks.close()
        for job in self._interrupted:
            await self._requeue_interrupted(job)
        self.log.info(
            "leases_released",
            worker=self.name,
            count=released,
            interrupted=len(self._interrupted),
        )
        self._interrupted.clear()

    async def _requeue_interrupted(self, job: Job) -> None:
        # The attempt counts: a job that always outlives the shutdown grace must still go dead.
        try:
            await self.queue.retry(
                job,
                self.name,
                delay=0.0,
                started_at=job.updated_at,
                error_class="Interrupted",
                error_message="the worker stopped before the job finished",
            )
        except _STORE_ERRORS:
            self.log.exception("release_failed", job_id=job.id)

    async def _give_back(self, jobs: list[Job]) -> int:
        if not jobs:
            return 0
        try:
            return await self.queue.release(jobs, self.name)
        except _STORE_ERRORS as exc:
            self.log.exception("release_failed", error=type(exc).__name__, count=len(jobs))
            return 0

    async def _heartbeat(self, stop: asyncio.Event) -> None:
        interval = self.queue.config.lease_seconds / 3
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
            held = list(self._held)
            if not held:
                continue
            try:
                kept = await self.queue.heartbeat(self.name, held)
            except _STORE_ERRORS as exc:
                self.log.warning("heartbeat_failed", error=type(exc).__name__)
                continue
            if kept < len(held):
                self.log.warning("leases_lost", worker=self.name, lost=len(held) - kept)

    async def _prune(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                pruned = await self.queue.prune()
            except _STORE_ERRORS as exc:
                self.log.warning("prune_failed", error=type(exc).__name__)
                pruned = 0
            if pruned:
                self.log.info("done_jobs_pruned", count=pruned)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.config.prune_interval)
