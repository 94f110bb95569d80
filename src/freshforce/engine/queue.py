"""The job queue as the engine sees it: enqueue, claim, heartbeat, settle outcomes, replay.

A job is "reconcile KEY for FLOW" for a tenant. This module owns the transactions; the SQL is in
``store/queue/`` and the times that decide (lease expiry, due times) are the database's clock.
``enqueue`` takes the caller's connection so intake can commit events, jobs and cursor together.
``settle`` is the unit of work's commit: the effects and the transitions of many job attempts in
one short transaction, each fenced by (job id, attempt, holder).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from freshforce.clock import Clock, system_clock
from freshforce.engine.flow import Effect
from freshforce.store import attempts as attempt_store
from freshforce.store import dead_letters as letter_store
from freshforce.store import queue as store
from freshforce.store.attempts import AttemptRecord, Failure, milliseconds
from freshforce.store.dead_letters import DeadLetter
from freshforce.store.queue import Hint, Job, JobRequest, JobStatus

__all__ = [
    "AttemptRecord",
    "Clock",
    "DeadLetter",
    "Failure",
    "Hint",
    "Job",
    "JobQueue",
    "JobRequest",
    "JobStatus",
    "QueueConfig",
    "Settlement",
    "payload_hints",
]


_REQUEUE_TRIES = 5
LOST = "lost_lease"
_ACKED = frozenset({"done", "skipped"})


@dataclass(frozen=True)
class QueueConfig:
    """Queue knobs: lease length, default attempts, how long done jobs are kept."""

    lease_seconds: float = 30.0
    max_attempts: int = 10
    done_retention_seconds: float = 86_400.0

    def __post_init__(self) -> None:
        if self.lease_seconds <= 0:
            msg = f"lease_seconds must be > 0, got {self.lease_seconds}"
            raise ValueError(msg)
        if self.max_attempts < 1:
            msg = f"max_attempts must be >= 1, got {self.max_attempts}"
            raise ValueError(msg)


@dataclass(frozen=True)
class Settlement:
    """How one held job attempt ends: its outcome, effects to record, and for a retry when.

    ``outcome`` is done, skipped, retry or dead; ``seconds`` the attempt's own duration.
    """

    job: Job
    outcome: str
    seconds: float
    effects: tuple[Effect, ...] = ()
    failure: Failure | None = None
    delay: float = 0.0
    floor: bool = False

    def record(self, worker: str) -> AttemptRecord:
        """Return the attempt row of this settlement."""
        return AttemptRecord.ended(
            self.job.id,
            attempt=self.job.attempt,
            worker=worker,
            outcome=self.outcome,
            seconds=self.seconds,
            failure=self.failure,
        )


# Turns a settlement whose effects raised into the failure to record instead (effects dropped).
EffectFailed = Callable[[Settlement, Exception], Settlement]


def payload_hints(payload: object) -> list[Hint]:
    """Check a dead-letter payload (``{"hints": [...]}``) and return its hints.

    Raises ``ValueError`` naming the path of the first wrong part.
    """
    if not isinstance(payload, dict):
        msg = f"payload: expected an object like {{'hints': [...]}}, got {type(payload).__name__}"
        raise ValueError(msg)  # noqa: TRY004 - bad JSON input, reported as a value error
    extra = sorted(set(payload) - {"hints"})
    if extra:
        msg = f"payload: unknown key(s) {', '.join(map(repr, extra))}; only 'hints' is allowed"
        raise ValueError(msg)
    hints = payload.get("hints", [])
    if not isinstance(hints, list):
        msg = f"payload.hints: expected a list, got {type(hints).__name__}"
        raise ValueError(msg)  # noqa: TRY004 - bad JSON input, reported as a value error
    for index, hint in enumerate(hints):
        if not isinstance(hint, str | dict):
            msg = (
                f"payload.hints[{index}]: expected a string or an object, got {type(hint).__name__}"
            )
            raise ValueError(msg)  # noqa: TRY004 - bad JSON input, reported as a value error
    return hints


class JobQueue:
    """The engine's handle on the jobs tables of one database.

    ``clock`` is the process's clock, used only for what a person reads (dead letter edit and
    replay stamps); leases and due times are the database's. On SQLite the queue's own write
    transactions take turns on an ``asyncio.Lock`` first: the runners of one process then queue
    in Python, instead of in SQLite's busy handler, which sleeps in steps of up to 100 ms.
    """

    def __init__(
        self, engine: AsyncEngine, *, clock: Clock | None = None, config: QueueConfig | None = None
    ) -> None:
        self.engine = engine
        self.clock: Clock = clock or system_clock
        self.config = config or QueueConfig()
        self._write_lock = asyncio.Lock()
        # Single statements that commit alone (PostgreSQL): no BEGIN, no COMMIT round trip.
        self._alone = engine.execution_options(isolation_level="AUTOCOMMIT")

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncConnection]:
        """Open a write transaction, taking this process's turn first on SQLite."""
        if self.is_postgres:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._write_lock, self.engine.begin() as conn:
            yield conn

    async def enqueue(
        self,
        conn: AsyncConnection,
        flow: str,
        key: str,
        hints: Sequence[Hint] = (),
        *,
        delay: float = 0.0,
        priority: int = 0,
        tenant: str = "default",
    ) -> int:
        """Ask for KEY to be reconciled for FLOW in ``conn``'s transaction; return the job id."""
        request = JobRequest(flow, key, tuple(hints), delay, priority, tenant)
        [job_id] = await self.enqueue_many(conn, [request])
        return job_id

    async def enqueue_many(
        self, conn: AsyncConnection, requests: Sequence[JobRequest]
    ) -> list[int]:
        """Enqueue a page of requests in ``conn``'s transaction; return job ids in request order."""
        return await store.enqueue(conn, requests, max_attempts=self.config.max_attempts)

    async def claim(self, worker: str, limit: int) -> list[Job]:
        """Lease up to ``limit`` jobs for ``worker``: expired leases first, then due pending.

        On PostgreSQL, while no lease has run out, the claim's statements each commit alone (a
        survey, then one ``UPDATE … RETURNING``, two with a fair share); else expired leases are
        taken over and the claim made in one transaction.
        """
        lease = self.config.lease_seconds
        if self.is_postgres:
            async with self._alone.connect() as conn:
                taken = await store.claim_unless_expired(
                    conn, worker=worker, limit=limit, lease_seconds=lease
                )
            if taken is not None:
                return taken
        async with self._writing() as conn:
            taken = await store.reclaim_expired(
                conn, worker=worker, limit=limit, lease_seconds=lease
            )
            if len(taken) < limit:
                taken += await store.claim(
                    conn, worker=worker, limit=limit - len(taken), lease_seconds=lease
                )
        return taken

    async def heartbeat(self, worker: str, held: Sequence[Job]) -> set[int]:
        """Extend ``worker``'s leases on these job attempts; return the ids it still holds."""
        async with self._writing() as conn:
            return await store.heartbeat(
                conn,
                worker=worker,
                held=[(j.id, j.attempt) for j in held],
                lease_seconds=self.config.lease_seconds,
            )

    async def settle(
        self,
        worker: str,
        settlements: Sequence[Settlement],
        *,
        on_effect_error: EffectFailed | None = None,
    ) -> dict[int, str]:
        """Commit many attempts' effects and transitions in one transaction; job id → outcome.

        A job whose attempt ``worker`` no longer holds commits nothing (outcome ``lost_lease``).
        Each job's effects run in a savepoint: when one raises, only that job's effects roll
        back and ``on_effect_error`` says what to record instead (default: a retry).
        """
        if not settlements:
            return {}
        if self.is_postgres and all(
            s.outcome in _ACKED and not s.effects and s.failure is None for s in settlements
        ):
            # Only clean acks, no effects: one statement, committing alone.
            async with self._alone.connect() as conn:
                acked = await store.ack_clean(
                    conn,
                    worker=worker,
                    held=[(s.job.id, s.job.attempt) for s in settlements],
                    durations_ms=[milliseconds(s.seconds) for s in settlements],
                    outcomes=[s.outcome for s in settlements],
                )
            return {s.job.id: s.outcome if s.job.id in acked else LOST for s in settlements}
        async with self._writing() as conn:
            final, ended = await self._apply_effects(conn, worker, settlements, on_effect_error)
            acks = [s for s in final if s.outcome in _ACKED]
            acked = await store.ack(conn, worker=worker, records=[s.record(worker) for s in acks])
            ended.update({s.job.id: s.outcome if s.job.id in acked else LOST for s in acks})
            failed: list[AttemptRecord] = []
            for s in final:
                if s.outcome in _ACKED:
                    continue
                kept = await self._fail(conn, worker, s)
                ended[s.job.id] = s.outcome if kept else LOST
                if kept:
                    failed.append(s.record(worker))
            await attempt_store.record_attempts(conn, failed)
        return ended

    async def _apply_effects(
        self,
        conn: AsyncConnection,
        worker: str,
        settlements: Sequence[Settlement],
        on_effect_error: EffectFailed | None,
    ) -> tuple[list[Settlement], dict[int, str]]:
        with_effects = [(s.job.id, s.job.attempt) for s in settlements if s.effects]
        held = await store.lock_held(conn, worker=worker, held=with_effects)
        final: list[Settlement] = []
        lost: dict[int, str] = {}
        for s in settlements:
            if not s.effects:
                final.append(s)
                continue
            if s.job.id not in held:
                lost[s.job.id] = LOST
                continue
            try:
                async with conn.begin_nested():
                    for effect in s.effects:
                        await effect(conn)
            except Exception as exc:  # noqa: BLE001 - one job's effects; its neighbours go on
                failed = replace(s, effects=(), outcome="retry", failure=Failure.of(exc))
                final.append(on_effect_error(s, exc) if on_effect_error else failed)
                continue
            final.append(s)
        return final, lost

    async def _fail(self, conn: AsyncConnection, worker: str, s: Settlement) -> bool:
        failure = s.failure or Failure("Unknown", "no error recorded")
        if s.outcome == "dead":
            return await store.bury(conn, job=s.job, worker=worker, failure=failure) is not None
        return await _requeue(
            conn, job=s.job, worker=worker, delay=s.delay, floor=s.floor, last_error=str(failure)
        )

    async def release(self, jobs: Sequence[Job], worker: str, *, delay: float = 0.0) -> int:
        """Give unstarted leases back (pending, due in ``delay`` seconds, attempt refunded).

        Return how many were given back.
        """
        if not jobs:
            return 0
        async with self._writing() as conn:
            released = 0
            for job in jobs:
                released += await _requeue(
                    conn,
                    job=job,
                    worker=worker,
                    delay=delay,
                    last_error=job.last_error,
                    refund_attempt=True,
                )
        return released

    async def jobs(
        self, *, status: JobStatus | None = None, flow: str | None = None, limit: int = 100
    ) -> list[Job]:
        async with self.engine.connect() as conn:
            return await store.list_jobs(conn, status=status, flow=flow, limit=limit)

    async def attempts(self, job_id: int) -> list[AttemptRecord]:
        async with self.engine.connect() as conn:
            return await attempt_store.list_attempts(conn, job_id)

    async def counts(self) -> dict[JobStatus, int]:
        async with self.engine.connect() as conn:
            return await store.count_by_status(conn)

    async def retry_now(self, job_ids: Sequence[int]) -> list[int]:
        """Make the given pending jobs due now; return the ids that were pending."""
        async with self._writing() as conn:
            return await store.retry_now(conn, job_ids=list(job_ids))

    async def prune(self, *, limit: int = 1000) -> int:
        """Delete done jobs older than the retention, at most ``limit`` per call."""
        async with self._writing() as conn:
            return await store.prune_done(
                conn, older_than=self.config.done_retention_seconds, limit=limit
            )

    async def dead_letters(
        self, *, include_replayed: bool = False, limit: int = 100
    ) -> list[DeadLetter]:
        async with self.engine.connect() as conn:
            return await letter_store.list_dead_letters(
                conn, include_replayed=include_replayed, limit=limit
            )

    async def dead_letter(self, letter_id: int) -> DeadLetter | None:
        async with self.engine.connect() as conn:
            return await letter_store.get_dead_letter(conn, letter_id)

    async def edit_dead_letter(self, letter_id: int, payload: dict[str, Any]) -> bool:
        """Replace the payload of a not yet replayed letter; raises ValueError on a bad payload."""
        payload_hints(payload)
        async with self._writing() as conn:
            return await letter_store.edit_dead_letter(
                conn, letter_id=letter_id, payload=payload, now=self.clock()
            )

    async def replay(self, letter_id: int) -> int | None:
        """Enqueue a dead letter's job again with its (edited) payload; return the job id.

        Returns None when the letter does not exist or was replayed already.
        """
        async with self._writing() as conn:
            letter = await letter_store.get_dead_letter(conn, letter_id)
            if letter is None or letter.replayed_at is not None:
                return None
            if not await letter_store.mark_replayed(conn, letter_id=letter_id, now=self.clock()):
                return None
            return await self.enqueue(
                conn, letter.flow, letter.key, payload_hints(letter.payload), tenant=letter.tenant
            )


async def _requeue(conn: AsyncConnection, **kwargs: Any) -> bool:  # noqa: ANN401 - store's args
    """Requeue in a savepoint, again when a pending twin was enqueued between absorb and update."""
    for _ in range(_REQUEUE_TRIES):
        try:
            async with conn.begin_nested():
                return await store.requeue(conn, **kwargs)
        except sa.exc.IntegrityError:
            continue
    return False
