"""The worker: claim jobs, run them through their flow in batches, commit what the flows return.

One process runs one ``Worker``: a claimer leases jobs and groups them per flow into batches of
the flow's ``batch_size``; ``concurrency`` runners each run one batch at a time (the unit of work,
engine/flow.py) and hand the outcomes to a group commit (engine/acks.py), which records effects
and transitions fenced by (job id, attempt, holder). A lease keeper renews the leases every third
of the lease on the database's clock; a lease found lost, or one it could not renew before it
runs out, cancels the batch still working on it, so the flow stops at its next ``await`` (before
any further remote write) and its effects are never committed. On PostgreSQL a ``LISTEN`` wakes
the claimer when work arrives; polling is the fallback on both backends.

Lifecycle names, one meaning each: *claim* takes leases; *run* works a batch; *commit* records
its outcomes (while the runner moves on); *lose* drops a lease found gone; *forget* drops a job
whose attempt has ended; *release* gives unstarted leases back at shutdown; *interrupt* cancels
batches still running after ``shutdown_timeout`` (0: at once) and requeues their jobs with the
attempt counted; *defer* gives back, unstarted and later, the jobs of a flow its gate
(engine/gate.py) says is paused for their tenant.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection
from structlog.typing import FilteringBoundLogger

from freshforce.engine.acks import GroupCommit
from freshforce.engine.flow import Flow, JobHandler, Outcome, Result, as_flow
from freshforce.engine.gate import OPEN, FlowGate
from freshforce.engine.metrics import QueueMetrics
from freshforce.engine.queue import LOST, Job, JobQueue, Settlement
from freshforce.engine.retry import Bury, RetryPolicy
from freshforce.store.attempts import Failure
from freshforce.store.engine import reading
from freshforce.store.notify import listen
from freshforce.store.queue import NOTIFY_CHANNEL

__all__ = ["Worker", "WorkerConfig"]

# Errors of the store itself while recording an outcome: the lease runs out and the job returns.
_STORE_ERRORS = (sa.exc.SQLAlchemyError, OSError)


@dataclass(frozen=True)
class WorkerConfig:
    """How a worker process runs: parallel batches, claim size, polling and shutdown timing."""

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
class _Context:
    """The ``FlowContext`` a worker lends its flows."""

    worker: str
    queue: JobQueue

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with reading(self.queue.engine) as conn:
            yield conn


def _job_context(job: Job) -> contextlib.AbstractContextManager[object]:
    return structlog.contextvars.bound_contextvars(
        job_id=job.id, flow=job.flow, record_key=job.key, attempt=job.attempt
    )


class Worker:
    """One worker process's engine: a claimer, runners, a lease keeper, a pruner."""

    def __init__(
        self,
        queue: JobQueue,
        flows: Mapping[str, Flow | JobHandler],
        *,
        name: str,
        policy: RetryPolicy,
        rng: random.Random,
        metrics: QueueMetrics | None = None,
        config: WorkerConfig | None = None,
        logger: FilteringBoundLogger | None = None,
        gate: FlowGate = OPEN,
    ) -> None:
        self.queue = queue
        self.gate = gate
        self.flows = {flow_name: as_flow(flow_name, f) for flow_name, f in flows.items()}
        self.name = name
        self.policy = policy
        self.rng = rng
        self.metrics = metrics
        self.config = config or WorkerConfig()
        self.log: FilteringBoundLogger = logger or structlog.get_logger("freshforce.worker")
        self._held: dict[int, Job] = {}  # job id → the attempt this worker holds
        self._renewed: dict[int, float] = {}  # job id → monotonic time its lease was granted
        self._working: dict[int, asyncio.Task[Any]] = {}  # job id → the runner working on it
        self._stopping: set[asyncio.Task[Any]] = set()  # runners whose batch is being cancelled
        self._settling = 0  # held jobs whose outcomes are handed to the group commit
        self._buffered = 0  # held jobs claimed and not yet taken by a runner
        self._buffer: asyncio.Queue[list[Job] | None] = asyncio.Queue()
        self._wake = asyncio.Event()
        self._claiming = False
        # On PostgreSQL the next claim runs in the database while this process runs a batch;
        # SQLite works in this process, so claiming ahead would only make claims smaller.
        self._claim_ahead = queue.is_postgres
        self._commits = GroupCommit(queue, name, self._effect_failed)
        self._context = _Context(name, queue)

    def replace_flows(self, flows: Mapping[str, Flow | JobHandler]) -> None:
        """Run every batch started from now on with ``flows`` (a new configuration version).

        A batch already running keeps the flow it started with, so it finishes under the old
        version; its jobs settle as usual.
        """
        self.flows = {flow_name: as_flow(flow_name, f) for flow_name, f in flows.items()}

    @property
    def held(self) -> int:
        """How many leases this worker holds now (buffered, running and committing)."""
        return len(self._held)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set, then shut down gracefully."""
        self.log.info("worker_started", worker=self.name, concurrency=self.config.concurrency)
        close_listener = await self._listen()
        runners = [asyncio.create_task(self._runner()) for _ in range(self.config.concurrency)]
        keeper = asyncio.create_task(self._keep_leases())
        waker = asyncio.create_task(self._wake_on(stop))
        background = [asyncio.create_task(self._prune(stop))] if self.config.prune_interval else []
        try:
            await self._claimer(stop)
        finally:
            self.log.info("worker_stopping", worker=self.name, held=self.held)
            await self._shut_down(runners)
            for task in [keeper, waker, *background]:
                task.cancel()
            await asyncio.gather(keeper, waker, *background, return_exceptions=True)
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
        # Claim again once half the claimed jobs are taken by the runners, so claims stay
        # batches, not singles, and the next batch is claimed while the runners work on the
        # last one and an earlier one commits: the claim, the run and the commit overlap
        # instead of taking turns. Bounds: at most a limit's worth of jobs buffered, twice
        # that buffered or running, three times that held (buffered, running or committing).
        limit = self._limit()
        active = len(self._held) - self._settling
        return self._buffered <= limit // 2 and active <= limit and len(self._held) < 3 * limit

    def _want(self) -> int:
        limit = self._limit()
        active = len(self._held) - self._settling
        return min(limit - self._buffered, 2 * limit - active, 3 * limit - len(self._held))

    def _holds(self, job: Job) -> bool:
        return self._held.get(job.id) is job

    # -- claim ---------------------------------------------------------------------------------

    async def _claimer(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            want = self._want()
            got = await self._claim(want) if self._wants_more() else 0
            if got == 0 or got < want:
                await self._sleep(stop)

    async def _claim(self, want: int) -> int:
        self._claiming = True
        try:
            sent = time.monotonic()
            jobs = await self.queue.claim(self.name, want)
        except _STORE_ERRORS as exc:
            self.log.warning("claim_failed", error=type(exc).__name__, detail=str(exc)[:200])
            return 0
        finally:
            self._claiming = False
        # One batch per flow and tenant: a flow works a batch tenant after tenant, so jobs of
        # many tenants in one batch would run one at a time while the other runners sat idle.
        batches: dict[tuple[str, str], list[Job]] = {}
        for job in jobs:
            old = self._held.get(job.id)
            if old is not None:  # our own expired attempt, taken over as a new one
                self._lose(old, "taken over as a new attempt")
            self._held[job.id] = job
            self._renewed[job.id] = sent
            batches.setdefault((job.flow, job.tenant), []).append(job)
            if self.metrics is not None:
                self.metrics.job_claimed(job.flow, (job.updated_at - job.run_at).total_seconds())
        for (flow_name, _), flow_jobs in batches.items():
            flow = self.flows.get(flow_name)
            size = max(flow.batch_size, 1) if flow is not None else len(flow_jobs)
            for start in range(0, len(flow_jobs), size):
                self._buffer.put_nowait(flow_jobs[start : start + size])
        self._buffered += len(jobs)
        if jobs:
            self.log.debug("jobs_claimed", worker=self.name, count=len(jobs))
        self._gauge()
        return len(jobs)

    async def _sleep(self, stop: asyncio.Event) -> None:
        # No task per sleep: ``stop`` sets the wake event too (``_wake_on``), so a runner that
        # sets it and yields once lets the claimer send its claim at once.
        if not stop.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.poll_interval):
                    await self._wake.wait()
        self._wake.clear()

    async def _wake_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._wake.set()

    def _gauge(self) -> None:
        if self.metrics is not None:
            self.metrics.in_flight.set(len(self._held))

    # -- run and commit ------------------------------------------------------------------------

    async def _runner(self) -> None:
        while (batch := await self._buffer.get()) is not None:
            self._buffered -= len(batch)
            if self._claim_ahead and not self._claiming and self._wants_more():
                # Let the claimer send the next claim now, while this batch runs.
                self._wake.set()
                await asyncio.sleep(0)
            mine = [job for job in batch if self._holds(job)]
            if mine:
                await self._work(mine)

    async def _work(self, batch: list[Job]) -> None:
        """Run one batch, then hand its outcomes to the group commit and move on.

        The jobs stay held (and renewed) until their commit ends (``_ended``), so the
        runner can start its next batch meanwhile.
        """
        if self.gate is not OPEN:
            batch = await self._defer_paused(batch)
            if not batch:
                return
        t0 = time.monotonic()
        try:
            settlements = await self._run(batch, t0)
        except BaseException:
            for job in batch:
                self._forget(job)
            raise
        if not settlements:
            self._ended(batch, settlements, t0, {})
            return
        self._settling += len(batch)

        def committed(ended: dict[int, str], error: BaseException | None) -> None:
            self._settling -= len(batch)
            if error is not None and not isinstance(error, asyncio.CancelledError):
                self.log.error("outcomes_not_recorded", error=type(error).__name__)
            self._ended(batch, settlements, t0, ended)

        self._commits.submit(settlements, committed)
        if self._wants_more():
            self._wake.set()

    async def _defer_paused(self, batch: list[Job]) -> list[Job]:
        """Give back, unstarted, the jobs whose tenant's flow is paused; return the others."""
        reasons: dict[str, str | None] = {}
        for tenant in {job.tenant for job in batch}:
            try:
                reasons[tenant] = await self.gate.paused(tenant, batch[0].flow)
            except _STORE_ERRORS as exc:  # the gate is unsure: run, as without a gate
                self.log.warning("gate_failed", error=type(exc).__name__, flow=batch[0].flow)
                reasons[tenant] = None
        paused = [job for job in batch if reasons[job.tenant] is not None]
        if not paused:
            return batch
        for job in paused:
            self._forget(job)
        try:
            await self.queue.release(paused, self.name, delay=self.gate.wait)
        except _STORE_ERRORS as exc:  # the leases run out and the jobs return by themselves
            self.log.warning("defer_failed", error=type(exc).__name__, count=len(paused))
        for tenant in {job.tenant for job in paused}:
            self.log.info(
                "flow_paused_jobs_deferred", flow=batch[0].flow, tenant=tenant,
                count=sum(job.tenant == tenant for job in paused), reason=reasons[tenant],
            )  # fmt: skip
        return [job for job in batch if reasons[job.tenant] is None]

    def _ended(
        self, batch: list[Job], settlements: list[Settlement], t0: float, ended: dict[int, str]
    ) -> None:
        """Log and count each job of a batch whose commit ended, and forget them."""
        by_job = {s.job.id: s for s in settlements}
        seconds = time.monotonic() - t0
        for job in batch:
            outcome = ended.get(job.id, LOST)
            self._log_end(job, outcome, by_job.get(job.id))
            if self.metrics is not None:
                self.metrics.job_finished(job.flow, outcome, seconds)
            self._drop(job)
        self._gauge()
        if self._wants_more():
            self._wake.set()

    def _log_end(self, job: Job, outcome: str, settlement: Settlement | None) -> None:
        # The job's fields as arguments, not bound context variables: a line below the
        # logger's level then costs nothing per job.
        log = self.log
        ids = {"job_id": job.id, "flow": job.flow, "record_key": job.key, "attempt": job.attempt}
        failure = None if settlement is None else settlement.failure
        error = None if failure is None else failure.error_class
        if outcome == LOST:
            log.warning("job_lease_lost", worker=self.name, **ids)
        elif outcome == "retry" and settlement is not None:
            log.info("job_retry_scheduled", error=error, delay=settlement.delay, **ids)
        elif outcome == "dead":
            reason = None if failure is None else failure.message
            log.warning("job_dead", error=error, reason=reason, **ids)
        else:
            log.info("job_done", outcome=outcome, **ids)

    async def _run(self, batch: list[Job], t0: float) -> list[Settlement]:
        flow = self.flows.get(batch[0].flow)
        if flow is None:
            known = ", ".join(sorted(self.flows)) or "none"
            reason = f"no handler for flow {batch[0].flow!r} (known flows: {known})"
            return [self._dead(job, t0, Failure("PermanentError", reason)) for job in batch]
        if all(job.attempt <= job.max_attempts for job in batch):
            return await self._run_flow(flow, batch, t0)
        worn = [job for job in batch if job.attempt > job.max_attempts]
        fresh = [job for job in batch if job.attempt <= job.max_attempts]
        reason = "lease lost on every one of {} attempts"
        settlements = [
            self._dead(job, t0, Failure("PermanentError", reason.format(job.max_attempts)))
            for job in worn
        ]
        if fresh:
            settlements += await self._run_flow(flow, fresh, t0)
        return settlements

    async def _run_flow(self, flow: Flow, jobs: list[Job], t0: float) -> list[Settlement]:
        """Run the flow in this runner's own task (no task per batch).

        A lost lease or the shutdown's interrupt cancels the runner while the flow runs
        (``_stop_batch``): the cancellation is taken back here and the batch's jobs still held
        retry as interrupted; the runner goes on with its next batch.
        """
        me = asyncio.current_task()
        assert me is not None  # noqa: S101 - a runner is a task
        for job in jobs:
            self._working[job.id] = me
        try:
            if len(jobs) == 1:  # the single-job adapter binds the job's own context
                outcomes = list(await flow.run(jobs, self._context))
            else:
                with structlog.contextvars.bound_contextvars(flow=flow.name, batch=len(jobs)):
                    outcomes = list(await flow.run(jobs, self._context))
        except asyncio.CancelledError:
            if not self._taken_back(me):
                raise
            interrupted = Failure("Interrupted", "the batch stopped before the job finished")
            return [
                Settlement(job, "retry", time.monotonic() - t0, failure=interrupted)
                for job in jobs
                if self._holds(job)
            ]
        except Exception as error:  # noqa: BLE001 - the flow failed every job of its batch
            outcomes = [Outcome.retry(job, error) for job in jobs]
        finally:
            for job in jobs:
                if self._working.get(job.id) is me:
                    del self._working[job.id]
        self._taken_back(me)  # a flow that swallowed the cancellation: its outcomes stand
        return self._settlements(flow, jobs, outcomes, t0)

    def _stop_batch(self, task: asyncio.Task[Any]) -> None:
        """Cancel the batch a runner works on; ``_run_flow`` takes the cancellation back."""
        self._stopping.add(task)
        task.cancel()

    def _taken_back(self, task: asyncio.Task[Any]) -> bool:
        """Undo this worker's cancellations of ``task``; False when none was asked for."""
        if task not in self._stopping:
            return False
        self._stopping.discard(task)
        while task.cancelling():
            task.uncancel()
        return True

    def _settlements(
        self, flow: Flow, jobs: list[Job], outcomes: list[Outcome], t0: float
    ) -> list[Settlement]:
        by_id = {o.job_id: o for o in outcomes}
        seconds = time.monotonic() - t0
        settlements: list[Settlement] = []
        for job in jobs:
            outcome = by_id.get(job.id)
            if outcome is None:
                missing = RuntimeError(f"flow {flow.name!r} returned no outcome for job {job.id}")
                outcome = Outcome.retry(job, missing)
            settlements.append(self._settle(job, outcome, seconds))
        return settlements

    def _settle(self, job: Job, outcome: Outcome, seconds: float) -> Settlement:
        if outcome.result in {Result.DONE, Result.SKIPPED}:
            return Settlement(job, outcome.result.value, seconds, outcome.effects)
        error = outcome.error or RuntimeError("failed without an error")
        failure = Failure.of(error)
        if outcome.result is Result.FAIL:
            return Settlement(job, "dead", seconds, outcome.effects, failure)
        age = (job.updated_at - job.created_at).total_seconds() + seconds
        decision = self.policy.decide(
            error, attempt=job.attempt, max_attempts=job.max_attempts, age=age, rng=self.rng
        )
        if isinstance(decision, Bury):
            buried = Failure(
                failure.error_class, f"{failure.message} ({decision.reason})", failure.traceback
            )
            return Settlement(job, "dead", seconds, outcome.effects, buried)
        return Settlement(
            job, "retry", seconds, outcome.effects, failure, decision.delay, decision.floor
        )

    def _dead(self, job: Job, t0: float, failure: Failure) -> Settlement:
        return Settlement(job, "dead", time.monotonic() - t0, failure=failure)

    def _effect_failed(self, settlement: Settlement, error: Exception) -> Settlement:
        """Classify the error of a job whose effects raised at commit: what to record instead."""
        return self._settle(
            settlement.job, Outcome.retry(settlement.job, error), settlement.seconds
        )

    def _forget(self, job: Job) -> None:
        """Drop a job whose attempt has ended (or was lost), and claim more when running low."""
        self._drop(job)
        self._gauge()
        if self._wants_more():
            self._wake.set()

    def _drop(self, job: Job) -> None:
        if self._held.get(job.id) is job:
            del self._held[job.id]
            self._renewed.pop(job.id, None)

    # -- leases --------------------------------------------------------------------------------

    def _lose(self, job: Job, why: str) -> None:
        """Drop a lease found gone and cancel the batch still working on it."""
        if not self._holds(job):
            return
        self._drop(job)
        with _job_context(job):
            self.log.warning("lease_lost", worker=self.name, reason=why)
        task = self._working.get(job.id)
        if task is not None:
            self._stop_batch(task)

    def _lease_deadline(self, job_id: int) -> float:
        lease = self.queue.config.lease_seconds
        return self._renewed.get(job_id, 0.0) + lease - min(1.0, lease / 10)

    async def _keep_leases(self) -> None:
        interval = self.queue.config.lease_seconds / 3
        last_beat = time.monotonic()
        while True:
            deadlines = [self._lease_deadline(i) for i in self._held]
            wake = min([last_beat + interval, *deadlines])
            await asyncio.sleep(max(wake - time.monotonic(), 0.01))
            now = time.monotonic()
            for job in list(self._held.values()):
                if self._lease_deadline(job.id) <= now:
                    self._lose(job, "not renewed before the lease ran out")
            if now >= last_beat + interval:
                last_beat = now
                await self._beat(within=interval)

    async def _beat(self, *, within: float) -> None:
        held = list(self._held.values())
        if not held:
            return
        sent = time.monotonic()
        try:
            kept = await asyncio.wait_for(self.queue.heartbeat(self.name, held), within)
        except (*_STORE_ERRORS, TimeoutError) as exc:
            self.log.warning(
                "heartbeat_failed", worker=self.name, error=type(exc).__name__, held=len(held)
            )
            return
        for job in held:
            if job.id in kept and self._holds(job):
                self._renewed[job.id] = sent
            elif job.id not in kept:
                self._lose(job, "the heartbeat found it taken")

    # -- shutdown ------------------------------------------------------------------------------

    async def _shut_down(self, runners: list[asyncio.Task[None]]) -> None:
        unstarted: list[Job] = []
        while not self._buffer.empty():
            batch = self._buffer.get_nowait()
            self._buffered -= len(batch or [])
            unstarted += [job for job in batch or [] if self._holds(job)]
        for _ in runners:
            self._buffer.put_nowait(None)
        released = await self._release(unstarted)
        _, late = await asyncio.wait(runners, timeout=self.config.shutdown_timeout)
        interrupted = self._interrupt() if late else 0
        await asyncio.gather(*runners, return_exceptions=True)
        await self._commits.close()
        self.log.info("leases_released", worker=self.name, count=released, interrupted=interrupted)

    def _interrupt(self) -> int:
        """Cancel the batches still running; their runners requeue the jobs as interrupted."""
        batches = set(self._working.values())
        for task in batches:
            self._stop_batch(task)
        return len(self._working)

    async def _release(self, jobs: list[Job]) -> int:
        for job in jobs:
            self._forget(job)
        if not jobs:
            return 0
        try:
            return await self.queue.release(jobs, self.name)
        except _STORE_ERRORS as exc:
            self.log.exception("release_failed", error=type(exc).__name__, count=len(jobs))
            return 0

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
