"""The job queue as the engine sees it: enqueue, claim, heartbeat, ack, retry, bury, replay.

A job is "reconcile KEY for FLOW". This module owns the transactions and the clock; the SQL is in
``store/queue.py``. ``enqueue`` and ``complete`` take the caller's connection so intake can commit
events, jobs and cursor together, and a handler's local effects commit with its ack.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from freshforce.clock import Clock
from freshforce.store import attempts as attempt_store
from freshforce.store import dead_letters as letter_store
from freshforce.store import queue as store
from freshforce.store.attempts import AttemptRecord
from freshforce.store.dead_letters import DeadLetter
from freshforce.store.queue import Hint, Job, JobStatus, NewJob

__all__ = [
    "AttemptRecord",
    "Clock",
    "DeadLetter",
    "Hint",
    "Job",
    "JobQueue",
    "JobRequest",
    "JobStatus",
    "QueueConfig",
    "payload_hints",
]


_REQUEUE_TRIES = 5


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


@dataclass(frozen=True)
class JobRequest:
    """Reconcile ``key`` for ``flow`` in ``delay`` seconds; lower ``priority`` runs first."""

    flow: str
    key: str
    hints: tuple[Hint, ...] = ()
    delay: float = 0.0
    priority: int = 0
    tenant: str = "default"

    def __post_init__(self) -> None:
        if not self.flow or not self.key:
            msg = f"a job needs a flow and a key, got flow={self.flow!r} key={self.key!r}"
            raise ValueError(msg)
        if self.delay < 0:
            msg = f"delay must be >= 0 seconds, got {self.delay} for {self.flow} {self.key}"
            raise ValueError(msg)


class JobQueue:
    """The engine's handle on the jobs tables of one database.

    On SQLite the queue's own write transactions (claim, heartbeat, acks, retry, bury, release,
    prune) take turns on an ``asyncio.Lock`` first: the runners of one process then queue in
    Python, instead of in SQLite's busy handler, which sleeps in steps of up to 100 ms.
    """

    def __init__(
        self, engine: AsyncEngine, *, clock: Clock, config: QueueConfig | None = None
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.config = config or QueueConfig()
        self._write_lock = asyncio.Lock()

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

    def _lease_until(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.config.lease_seconds)

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
        now = self.clock()
        new_jobs = [
            NewJob(
                flow=r.flow,
                key=r.key,
                run_at=now + timedelta(seconds=r.delay),
                hints=r.hints,
                priority=r.priority,
                max_attempts=self.config.max_attempts,
                tenant=r.tenant,
            )
            for r in requests
        ]
        return await store.enqueue(conn, new_jobs, now=now)

    async def claim(self, worker: str, limit: int) -> list[Job]:
        """Lease up to ``limit`` jobs for ``worker``: expired leases first, then due pending."""
        now = self.clock()
        lease_until = self._lease_until(now)
        try:
            async with self._writing() as conn:
                taken = await store.reclaim_expired(
                    conn, worker=worker, limit=limit, now=now, lease_until=lease_until
                )
                if len(taken) < limit:
                    taken += await store.claim(
                        conn,
                        worker=worker,
                        limit=limit - len(taken),
                        now=now,
                        lease_until=lease_until,
                    )
        except sa.exc.IntegrityError:
            # Another claimer took a job of the same key at the same moment: claim again later.
            return []
        return taken

    async def heartbeat(self, worker: str, job_ids: Sequence[int]) -> int:
        """Extend ``worker``'s leases on ``job_ids``; return how many it still holds."""
        async with self._writing() as conn:
            return await store.heartbeat(
                conn,
                worker=worker,
                job_ids=list(job_ids),
                lease_until=self._lease_until(self.clock()),
            )

    async def complete(
        self,
        conn: AsyncConnection,
        job: Job,
        worker: str,
        *,
        started_at: datetime,
        outcome: str = "done",
    ) -> bool:
        """Ack ``job`` as done (outcome done or skipped) in ``conn``; False if the lease is lost."""
        now = self.clock()
        if not await store.finish(
            conn, job_id=job.id, worker=worker, status=JobStatus.DONE, now=now
        ):
            return False
        record = AttemptRecord(job.id, job.attempt, worker, started_at, now, outcome)
        await attempt_store.record_attempt(conn, record)
        return True

    async def complete_many(
        self, worker: str, finished: Sequence[tuple[Job, datetime, str]]
    ) -> set[int]:
        """Ack many held jobs whose handlers made no local writes, in one transaction.

        ``finished`` holds (job, started_at, outcome done|skipped). Returns the ids acked; a job
        missing from it lost its lease. Only for handlers with no effects of their own to commit:
        a handler that wrote acks with ``complete`` in its own transaction.
        """
        if not finished:
            return set()
        async with self._writing() as conn:
            now = self.clock()
            records = [
                AttemptRecord(job.id, job.attempt, worker, started_at, now, outcome)
                for job, started_at, outcome in finished
            ]
            return await store.finish_done_many(conn, worker=worker, records=records, now=now)

    async def retry(
        self,
        job: Job,
        worker: str,
        *,
        delay: float,
        started_at: datetime,
        error_class: str,
        error_message: str,
        traceback: str | None = None,
    ) -> bool:
        """Put ``job`` back to pending in ``delay`` seconds and record the failed attempt."""
        for _ in range(_REQUEUE_TRIES):
            try:
                async with self._writing() as conn:
                    now = self.clock()
                    if not await store.requeue(
                        conn,
                        job_id=job.id,
                        worker=worker,
                        run_at=now + timedelta(seconds=delay),
                        now=now,
                        last_error=f"{error_class}: {error_message}",
                    ):
                        return False
                    record = AttemptRecord(
                        job.id,
                        job.attempt,
                        worker,
                        started_at,
                        now,
                        "retry",
                        error_class,
                        error_message,
                        traceback,
                    )
                    await attempt_store.record_attempt(conn, record)
                    return True
            except sa.exc.IntegrityError:
                # A pending twin was enqueued between our absorb and our update: absorb again.
                continue
        return False

    async def bury(
        self,
        job: Job,
        worker: str,
        *,
        started_at: datetime,
        error_class: str,
        error_message: str,
        traceback: str | None = None,
    ) -> int | None:
        """Dead-letter ``job`` and record the failed attempt; return the letter id or None."""
        async with self._writing() as conn:
            now = self.clock()
            letter = await store.bury(
                conn,
                job=job,
                worker=worker,
                now=now,
                error_class=error_class,
                error_message=error_message,
            )
            if letter is not None:
                record = AttemptRecord(
                    job.id,
                    job.attempt,
                    worker,
                    started_at,
                    now,
                    "dead",
                    error_class,
                    error_message,
                    traceback,
                )
                await attempt_store.record_attempt(conn, record)
            return letter

    async def release(self, jobs: Sequence[Job], worker: str) -> int:
        """Give unstarted leases back (pending, due now, attempt refunded); return how many."""
        released = 0
        for job in jobs:
            for _ in range(_REQUEUE_TRIES):
                try:
                    async with self._writing() as conn:
                        now = self.clock()
                        released += await store.requeue(
                            conn,
                            job_id=job.id,
                            worker=worker,
                            run_at=now,
                            now=now,
                            last_error=job.last_error,
                            refund_attempt=True,
                        )
                    break
                except sa.exc.IntegrityError:
                    continue
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
            return await store.retry_now(conn, job_ids=list(job_ids), now=self.clock())

    async def prune(self, *, limit: int = 1000) -> int:
        """Delete done jobs older than the retention, at most ``limit`` per call."""
        before = self.clock() - timedelta(seconds=self.config.done_retention_seconds)
        async with self._writing() as conn:
            return await store.prune_done(conn, before=before, limit=limit)

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
