"""Transitions of held jobs: heartbeat, lock, ack, requeue, bury; the operator's retry and wake.

Each is a compare-and-set fenced by (job id, attempt, holder): ``WHERE id = :id AND attempts =
:n AND locked_by = :me AND status = 'running'``; callers check what came back.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from freshforce.store.attempts import AttemptRecord, Failure, record_attempts
from freshforce.store.dbtime import db_now, db_time
from freshforce.store.dead_letters import insert_dead_letter
from freshforce.store.queue.model import (
    NOTIFY_CHANNEL,
    Job,
    JobStatus,
    fence,
    is_postgres,
    least,
    merge_hints,
    status_is,
)
from freshforce.store.schema import jobs

__all__ = [
    "ack",
    "ack_clean",
    "bury",
    "heartbeat",
    "lock_held",
    "requeue",
    "retry_now",
    "wake_flow",
]


async def heartbeat(
    conn: AsyncConnection, *, worker: str, held: Sequence[tuple[int, int]], lease_seconds: float
) -> set[int]:
    """Extend the leases ``worker`` still holds on (job id, attempt) pairs; return those ids."""
    if not held:
        return set()
    result = await conn.execute(
        sa.update(jobs)
        .where(*fence(worker, held))
        .values(lease_expires_at=db_time(conn.dialect.name, lease_seconds))
        .returning(jobs.c.id)
    )
    return {int(job_id) for job_id in result.scalars()}


async def lock_held(
    conn: AsyncConnection, *, worker: str, held: Sequence[tuple[int, int]]
) -> set[int]:
    """Lock the jobs ``worker`` still holds among (job id, attempt) pairs; return their ids.

    Until the transaction ends nobody can take them over, so effects recorded now are fenced.
    """
    if not held:
        return set()
    query = sa.select(jobs.c.id).where(*fence(worker, held))
    if is_postgres(conn):
        query = query.with_for_update()
    return {int(job_id) for job_id in (await conn.execute(query)).scalars()}


async def ack(conn: AsyncConnection, *, worker: str, records: Sequence[AttemptRecord]) -> set[int]:
    """Mark held jobs done and write their attempt rows; return the job ids acked.

    Each record names a job attempt ``worker`` holds and how it ended (done or skipped). Only
    the attempts still held are acked and recorded. On PostgreSQL one statement does both (the
    update, then the attempt rows of the jobs it updated), with the records as arrays, so its
    text and prepared plan are the same for any number of jobs; on SQLite an ``UPDATE`` and one
    batched insert.
    """
    if not records:
        return set()
    if is_postgres(conn):
        return await _ack_postgres(conn, worker, records)
    result = await conn.execute(
        sa.update(jobs)
        .where(*fence(worker, [(r.job_id, r.attempt) for r in records]))
        .values(
            status=JobStatus.DONE.value,
            locked_by=None,
            lease_expires_at=None,
            last_error=None,
            updated_at=db_now(conn.dialect.name),
        )
        .returning(jobs.c.id)
    )
    acked = {int(job_id) for job_id in result.scalars()}
    await record_attempts(conn, [r for r in records if r.job_id in acked])
    return acked


# The fence per element: the id finds the row by primary key, the attempt at the same position
# of the array must match, and the row must still run under this worker. Acks almost never
# carry an error: those records go as four arrays, and the three error arrays (every element
# encoded and checked by the driver) only when some record has one.
_ACKED_CTE = """WITH acked AS (
  UPDATE jobs SET status = 'done', locked_by = NULL, lease_expires_at = NULL,
    last_error = NULL, updated_at = now()
  WHERE jobs.id = ANY(CAST(:ids AS BIGINT[]))
    AND jobs.attempts
      = (CAST(:attempts AS INTEGER[]))[array_position(CAST(:ids AS BIGINT[]), jobs.id)]
    AND jobs.status = 'running' AND jobs.locked_by = :worker
  RETURNING jobs.id
)
INSERT INTO attempts (job_id, attempt, worker, started_at, finished_at, duration_ms, outcome,
  error_class, error_message, traceback)
"""
_ACK_POSTGRES = sa.text(
    _ACKED_CTE
    + """SELECT r.id, r.attempt, :worker, now() - make_interval(secs => r.ms / 1000.0), now(), r.ms,
  r.outcome, r.error_class, r.error_message, r.traceback
FROM unnest(
  CAST(:ids AS BIGINT[]), CAST(:attempts AS INTEGER[]), CAST(:ms AS FLOAT8[]),
  CAST(:outcomes AS VARCHAR[]), CAST(:error_classes AS VARCHAR[]),
  CAST(:error_messages AS TEXT[]), CAST(:tracebacks AS TEXT[])
) AS r(id, attempt, ms, outcome, error_class, error_message, traceback)
JOIN acked ON acked.id = r.id
RETURNING attempts.job_id"""
)
_ACK_POSTGRES_CLEAN = sa.text(
    _ACKED_CTE
    + """SELECT r.id, r.attempt, :worker, now() - make_interval(secs => r.ms / 1000.0), now(), r.ms,
  r.outcome, NULL, NULL, NULL
FROM unnest(
  CAST(:ids AS BIGINT[]), CAST(:attempts AS INTEGER[]), CAST(:ms AS FLOAT8[]),
  CAST(:outcomes AS VARCHAR[])
) AS r(id, attempt, ms, outcome)
JOIN acked ON acked.id = r.id
RETURNING attempts.job_id"""
)


async def _ack_postgres(
    conn: AsyncConnection, worker: str, records: Sequence[AttemptRecord]
) -> set[int]:
    if all(r.failure is None for r in records):
        return await ack_clean(
            conn,
            worker=worker,
            held=[(r.job_id, r.attempt) for r in records],
            durations_ms=[r.duration_ms for r in records],
            outcomes=[r.outcome for r in records],
        )
    values: dict[str, object] = {
        "worker": worker,
        "ids": [r.job_id for r in records],
        "attempts": [r.attempt for r in records],
        "ms": [r.duration_ms for r in records],
        "outcomes": [r.outcome for r in records],
        "error_classes": [r.error_class for r in records],
        "error_messages": [r.error_message for r in records],
        "tracebacks": [r.traceback for r in records],
    }
    result = await conn.execute(_ACK_POSTGRES, values)
    return {int(job_id) for job_id in result.scalars()}


async def ack_clean(
    conn: AsyncConnection,
    *,
    worker: str,
    held: Sequence[tuple[int, int]],
    durations_ms: Sequence[float],
    outcomes: Sequence[str],
) -> set[int]:
    """``ack`` of attempts that carry no failure, given as columns (PostgreSQL only).

    The worker's common path: a group of done jobs acked without an ``AttemptRecord`` each.
    ``held`` is (job id, attempt) per job; ``durations_ms`` and ``outcomes`` at the same positions.
    """
    if not held:
        return set()
    values = {
        "worker": worker,
        "ids": [job_id for job_id, _ in held],
        "attempts": [attempt for _, attempt in held],
        "ms": list(durations_ms),
        "outcomes": list(outcomes),
    }
    result = await conn.execute(_ACK_POSTGRES_CLEAN, values)
    return {int(job_id) for job_id in result.scalars()}


async def requeue(
    conn: AsyncConnection,
    *,
    job: Job,
    worker: str,
    delay: float,
    floor: bool = False,
    last_error: str | None,
    refund_attempt: bool = False,
) -> bool:
    """Put a held job attempt back to pending in ``delay`` seconds; False when the lease was lost.

    ``floor`` makes the due time a "not before" (a remote's Retry-After) that later coalescing
    keeps. A pending job for the same identity may have been enqueued while this one ran; it is
    absorbed (its hints joined to this job's) so the one-pending-job rule holds, and its earlier
    due time is kept only for a job released unstarted (``refund_attempt``, which also gives
    back the claim's attempt).
    """
    guard = fence(worker, [(job.id, job.attempt)])
    held = sa.select(jobs.c.hints).where(*guard)
    if is_postgres(conn):
        held = held.with_for_update()
    row = (await conn.execute(held)).one_or_none()
    if row is None:
        return False
    sibling = (
        await conn.execute(
            sa.delete(jobs)
            .where(
                jobs.c.tenant == job.tenant,
                jobs.c.flow == job.flow,
                jobs.c.key == job.key,
                status_is(jobs.c.status, JobStatus.PENDING),
            )
            .returning(jobs.c.hints, jobs.c.run_at)
        )
    ).one_or_none()
    hints = list(row.hints or [])
    dialect = conn.dialect.name
    run_at = db_time(dialect, delay)
    if sibling is not None:
        hints = merge_hints(hints, list(sibling.hints or []))
        if refund_attempt:
            run_at = least(conn, run_at, sa.literal(sibling.run_at, jobs.c.run_at.type))
    result = await conn.execute(
        sa.update(jobs)
        .where(*guard)
        .values(
            status=JobStatus.PENDING.value,
            locked_by=None,
            lease_expires_at=None,
            hints=hints,
            run_at=run_at,
            not_before=db_time(dialect, delay) if floor else None,
            last_error=last_error,
            attempts=jobs.c.attempts - 1 if refund_attempt else jobs.c.attempts,
            updated_at=db_now(dialect),
        )
    )
    if is_postgres(conn) and result.rowcount == 1 and delay == 0:
        await conn.execute(sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, job.flow)))
    return result.rowcount == 1


async def bury(conn: AsyncConnection, *, job: Job, worker: str, failure: Failure) -> int | None:
    """Mark a held job attempt dead and write its dead letter; the letter id, None if lost."""
    result = await conn.execute(
        sa.update(jobs)
        .where(*fence(worker, [(job.id, job.attempt)]))
        .values(
            status=JobStatus.DEAD.value,
            locked_by=None,
            lease_expires_at=None,
            last_error=str(failure),
            updated_at=db_now(conn.dialect.name),
        )
    )
    if result.rowcount != 1:
        return None
    return await insert_dead_letter(conn, job=job, failure=failure)


async def retry_now(conn: AsyncConnection, *, job_ids: list[int]) -> list[int]:
    """Make waiting pending jobs due now (an operator overrides any floor); return those ids."""
    if not job_ids:
        return []
    now = db_now(conn.dialect.name)
    result = await conn.execute(
        sa.update(jobs)
        .where(jobs.c.id.in_(job_ids), status_is(jobs.c.status, JobStatus.PENDING))
        .values(run_at=now, not_before=None, updated_at=now)
        .returning(jobs.c.id)
    )
    ids = sorted(int(i) for i in result.scalars())
    if ids and is_postgres(conn):
        await conn.execute(sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, "")))
    return ids


async def wake_flow(conn: AsyncConnection, *, tenant: str, flow: str) -> int:
    """Make a tenant's waiting pending jobs of ``flow`` due now (a resumed flow); how many.

    A remote's "not before" (``not_before``) is kept: those jobs wait for it as before.
    """
    now = db_now(conn.dialect.name)
    result = await conn.execute(
        sa.update(jobs)
        .where(
            jobs.c.tenant == tenant,
            jobs.c.flow == flow,
            status_is(jobs.c.status, JobStatus.PENDING),
            jobs.c.not_before.is_(None),
            jobs.c.run_at > now,
        )
        .values(run_at=now, updated_at=now)
    )
    if result.rowcount and is_postgres(conn):
        await conn.execute(sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, flow)))
    return int(result.rowcount)
