"""The SQL of the job queue's jobs table, the same semantics on both backends.

Every status change is a compare-and-set (``UPDATE ... WHERE id = :id AND status = :from`` and,
for a running job, ``AND locked_by = :me``) whose row count the caller checks. The dialect
differences sit here: ``FOR UPDATE SKIP LOCKED`` and ``NOTIFY`` on PostgreSQL; on SQLite every
transaction is ``BEGIN IMMEDIATE`` (store/engine.py), so claims are serialised by the write lock.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from freshforce.store.attempts import AttemptRecord, record_attempt, record_attempts
from freshforce.store.dead_letters import insert_dead_letter
from freshforce.store.schema import attempts, jobs

__all__ = [
    "NOTIFY_CHANNEL",
    "Hint",
    "Job",
    "JobStatus",
    "NewJob",
    "bury",
    "claim",
    "count_by_status",
    "enqueue",
    "finish",
    "finish_done_many",
    "heartbeat",
    "list_jobs",
    "merge_hints",
    "prune_done",
    "reclaim_expired",
    "requeue",
    "retry_now",
]

NOTIFY_CHANNEL = "freshforce_jobs"
MAX_HINTS = 100

# A hint is JSON from intake: a string or a small object of JSON values.
Hint = str | dict[str, Any]


class JobStatus(StrEnum):
    """Where a job is in its life: pending → running → done | dead (or back to pending)."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"


@dataclass(frozen=True)
class Job:
    """One row of ``jobs``: reconcile ``key`` for ``flow``; ``attempt`` counts claims so far."""

    id: int
    tenant: str
    flow: str
    key: str
    status: JobStatus
    priority: int
    hints: tuple[Hint, ...]
    attempt: int
    max_attempts: int
    run_at: datetime
    locked_by: str | None
    lease_expires_at: datetime | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime


def merge_hints(old: Sequence[Hint], new: Sequence[Hint]) -> list[Hint]:
    """Union two hint lists in order, without duplicates, keeping the newest ``MAX_HINTS``."""
    seen: set[str] = set()
    merged: list[Hint] = []
    for hint in [*old, *new]:
        canonical = json.dumps(hint, sort_keys=True, separators=(",", ":"))
        if canonical not in seen:
            seen.add(canonical)
            merged.append(hint)
    return merged[-MAX_HINTS:]


def _job(row: Row[Any]) -> Job:
    m = row._mapping  # noqa: SLF001 - SQLAlchemy's public row mapping accessor
    return Job(
        id=m["id"],
        tenant=m["tenant"],
        flow=m["flow"],
        key=m["key"],
        status=JobStatus(m["status"]),
        priority=m["priority"],
        hints=tuple(m["hints"] or ()),
        attempt=m["attempts"],
        max_attempts=m["max_attempts"],
        run_at=m["run_at"],
        locked_by=m["locked_by"],
        lease_expires_at=m["lease_expires_at"],
        last_error=m["last_error"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def _is_postgres(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "postgresql"


_PENDING = sa.text("status = 'pending'")


@dataclass(frozen=True)
class NewJob:
    """A request to reconcile ``key`` for ``flow``, due at ``run_at``."""

    flow: str
    key: str
    run_at: datetime
    hints: tuple[Hint, ...] = ()
    priority: int = 0
    max_attempts: int = 10
    tenant: str = "default"


def _held_by(worker: str) -> tuple[sa.ColumnElement[bool], sa.ColumnElement[bool]]:
    """Return the compare-and-set guard: the job still runs and is still leased to ``worker``."""
    return (jobs.c.status == JobStatus.RUNNING.value, jobs.c.locked_by == worker)


async def enqueue(conn: AsyncConnection, new_jobs: list[NewJob], *, now: datetime) -> list[int]:
    """Add pending jobs, or merge each into the pending one for its (flow, key); return the ids.

    A merge keeps the earliest ``run_at``, the most urgent (lowest) priority and the union of the
    hints; requests for one (flow, key) within the list merge first. Inserts never raise on a
    duplicate, so this runs inside a caller's transaction. Ids come back in request order.
    """
    waiting = _coalesce(new_jobs, now)
    ids: dict[tuple[str, str], int] = {}
    while waiting:
        ids.update(await _insert_pending(conn, waiting))
        claimed_meanwhile: list[dict[str, Any]] = []
        for values in waiting:
            if (values["flow"], values["key"]) in ids:
                continue
            job_id = await _merge_pending(conn, values)
            if job_id is None:  # the pending job was claimed between insert and merge
                claimed_meanwhile.append(values)
            else:
                ids[values["flow"], values["key"]] = job_id
        waiting = claimed_meanwhile
    if _is_postgres(conn) and any(j.run_at <= now for j in new_jobs):
        await conn.execute(sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, "")))
    return [ids[j.flow, j.key] for j in new_jobs]


def _coalesce(new_jobs: list[NewJob], now: datetime) -> list[dict[str, Any]]:
    # Any: column values of jobs rows. Sorted by (flow, key) so that concurrent PostgreSQL
    # transactions take the unique-index locks in one order and cannot deadlock.
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for job in new_jobs:
        row = rows.get((job.flow, job.key))
        if row is None:
            rows[job.flow, job.key] = {
                "tenant": job.tenant,
                "flow": job.flow,
                "key": job.key,
                "status": JobStatus.PENDING.value,
                "priority": job.priority,
                "hints": merge_hints([], job.hints),
                "attempts": 0,
                "max_attempts": job.max_attempts,
                "run_at": job.run_at,
                "created_at": now,
                "updated_at": now,
            }
            continue
        row["hints"] = merge_hints(row["hints"], job.hints)
        row["run_at"] = min(row["run_at"], job.run_at)
        row["priority"] = min(row["priority"], job.priority)
    return [rows[k] for k in sorted(rows)]


async def _insert_pending(
    conn: AsyncConnection, rows: list[dict[str, Any]]
) -> dict[tuple[str, str], int]:
    insert = postgresql.insert if _is_postgres(conn) else sqlite.insert
    stmt = (
        insert(jobs)
        .on_conflict_do_nothing(index_elements=["flow", "key"], index_where=_PENDING)
        .returning(jobs.c.id, jobs.c.flow, jobs.c.key)
    )
    # executemany: SQLAlchemy batches it into multi-row INSERTs ("insertmanyvalues") with one
    # cached compilation; a conflicting row returns nothing.
    result = await conn.execute(stmt, rows)
    return {(flow, key): int(job_id) for job_id, flow, key in result.all()}


async def _merge_pending(conn: AsyncConnection, values: dict[str, Any]) -> int | None:
    query = sa.select(jobs.c.id, jobs.c.hints, jobs.c.run_at, jobs.c.priority).where(
        jobs.c.flow == values["flow"],
        jobs.c.key == values["key"],
        jobs.c.status == JobStatus.PENDING.value,
    )
    if _is_postgres(conn):
        query = query.with_for_update()
    row = (await conn.execute(query)).one_or_none()
    if row is None:
        return None
    result = await conn.execute(
        sa.update(jobs)
        .where(jobs.c.id == row.id, jobs.c.status == JobStatus.PENDING.value)
        .values(
            hints=merge_hints(list(row.hints or []), values["hints"]),
            run_at=min(row.run_at, values["run_at"]),
            priority=min(row.priority, values["priority"]),
            updated_at=values["updated_at"],
        )
    )
    return int(row.id) if result.rowcount == 1 else None


async def claim(
    conn: AsyncConnection, *, worker: str, limit: int, now: datetime, lease_until: datetime
) -> list[Job]:
    """Lease up to ``limit`` due pending jobs, at most one per key and none whose key is running.

    On PostgreSQL rows other claimers hold are skipped (``SKIP LOCKED``). Two claimers can still
    pick two flows of one key at once; the loser's transaction fails on ``uq_jobs_running_key``
    and the caller retries (the engine treats it as an empty claim).
    """
    running = jobs.alias("running")
    candidates = (
        sa.select(jobs.c.id, jobs.c.key, jobs.c.priority, jobs.c.run_at)
        .where(
            jobs.c.status == JobStatus.PENDING.value,
            jobs.c.run_at <= now,
            ~sa.exists().where(
                running.c.key == jobs.c.key, running.c.status == JobStatus.RUNNING.value
            ),
        )
        .order_by(jobs.c.status, jobs.c.priority, jobs.c.run_at, jobs.c.id)
        .limit(limit)
    )
    if _is_postgres(conn):
        candidates = candidates.with_for_update(skip_locked=True)
    locked = candidates.cte("candidates")
    rank = sa.func.row_number().over(
        partition_by=locked.c.key, order_by=(locked.c.priority, locked.c.run_at, locked.c.id)
    )
    ranked = sa.select(locked.c.id, rank.label("rank")).subquery("ranked")
    picked = sa.select(ranked.c.id).where(ranked.c.rank == 1)
    stmt = (
        sa.update(jobs)
        .where(jobs.c.id.in_(picked), jobs.c.status == JobStatus.PENDING.value)
        .values(
            status=JobStatus.RUNNING.value,
            locked_by=worker,
            lease_expires_at=lease_until,
            attempts=jobs.c.attempts + 1,
            updated_at=now,
        )
        .returning(*jobs.c)
    )
    rows = (await conn.execute(stmt)).all()
    return sorted((_job(r) for r in rows), key=lambda j: (j.priority, j.run_at, j.id))


async def reclaim_expired(
    conn: AsyncConnection, *, worker: str, limit: int, now: datetime, lease_until: datetime
) -> list[Job]:
    """Take over running jobs whose lease ran out, recording the lost attempt of the old holder."""
    query = (
        sa.select(jobs.c.id, jobs.c.attempts, jobs.c.locked_by, jobs.c.updated_at)
        .where(jobs.c.status == JobStatus.RUNNING.value, jobs.c.lease_expires_at < now)
        .order_by(jobs.c.lease_expires_at)
        .limit(limit)
    )
    if _is_postgres(conn):
        query = query.with_for_update(skip_locked=True)
    expired = (await conn.execute(query)).all()
    taken: list[Job] = []
    for row in expired:
        result = await conn.execute(
            sa.update(jobs)
            .where(
                jobs.c.id == row.id,
                jobs.c.status == JobStatus.RUNNING.value,
                jobs.c.locked_by == row.locked_by,
                jobs.c.lease_expires_at < now,
            )
            .values(
                locked_by=worker,
                lease_expires_at=lease_until,
                attempts=jobs.c.attempts + 1,
                updated_at=now,
            )
            .returning(*jobs.c)
        )
        new = result.one_or_none()
        if new is None:
            continue
        lost = AttemptRecord(
            job_id=row.id,
            attempt=row.attempts,
            worker=row.locked_by,
            started_at=row.updated_at,
            finished_at=now,
            outcome="lost",
            error_class="LeaseExpired",
            error_message=f"lease of worker {row.locked_by} expired; taken over by {worker}",
        )
        await record_attempt(conn, lost)
        taken.append(_job(new))
    return taken


async def heartbeat(
    conn: AsyncConnection, *, worker: str, job_ids: list[int], lease_until: datetime
) -> int:
    """Extend the leases ``worker`` still holds on ``job_ids``; return how many it still holds."""
    if not job_ids:
        return 0
    result = await conn.execute(
        sa.update(jobs)
        .where(
            jobs.c.id.in_(job_ids),
            *_held_by(worker),
        )
        .values(lease_expires_at=lease_until)
    )
    return result.rowcount


async def finish(
    conn: AsyncConnection,
    *,
    job_id: int,
    worker: str,
    status: JobStatus,
    now: datetime,
    last_error: str | None = None,
) -> bool:
    """Move a job ``worker`` holds from running to done or dead; False when the lease was lost."""
    result = await conn.execute(
        sa.update(jobs)
        .where(
            jobs.c.id == job_id,
            *_held_by(worker),
        )
        .values(
            status=status.value,
            locked_by=None,
            lease_expires_at=None,
            last_error=last_error,
            updated_at=now,
        )
    )
    return result.rowcount == 1


async def finish_done_many(
    conn: AsyncConnection, *, worker: str, records: Sequence[AttemptRecord], now: datetime
) -> set[int]:
    """Ack many held jobs as done with one ``UPDATE`` and their attempts with one insert.

    Each record names a job ``worker`` holds and how its attempt ended (done or skipped). Only
    the jobs still held are acked and get an attempt row; their ids come back.
    """
    if not records:
        return set()
    result = await conn.execute(
        sa.update(jobs)
        .where(
            jobs.c.id.in_([r.job_id for r in records]),
            *_held_by(worker),
        )
        .values(
            status=JobStatus.DONE.value,
            locked_by=None,
            lease_expires_at=None,
            last_error=None,
            updated_at=now,
        )
        .returning(jobs.c.id)
    )
    acked = {int(job_id) for job_id in result.scalars()}
    await record_attempts(conn, [r for r in records if r.job_id in acked])
    return acked


async def requeue(
    conn: AsyncConnection,
    *,
    job_id: int,
    worker: str,
    run_at: datetime,
    now: datetime,
    last_error: str | None,
    refund_attempt: bool = False,
) -> bool:
    """Put a job ``worker`` holds back to pending at ``run_at``; False when the lease was lost.

    A pending job for the same (flow, key) may have been enqueued while this one ran; it is
    absorbed (its hints joined to this job's) so the one-pending-job rule holds. ``refund_attempt``
    gives back the claim's attempt, for a job released unstarted at shutdown.
    """
    job = await _held(conn, job_id, worker)
    if job is None:
        return False
    sibling = (
        await conn.execute(
            sa.delete(jobs)
            .where(
                jobs.c.flow == job.flow,
                jobs.c.key == job.key,
                jobs.c.status == JobStatus.PENDING.value,
            )
            .returning(jobs.c.hints, jobs.c.run_at)
        )
    ).one_or_none()
    hints = list(job.hints)
    if sibling is not None:
        hints = merge_hints(hints, list(sibling.hints or []))
        if refund_attempt:
            run_at = min(run_at, sibling.run_at)
    result = await conn.execute(
        sa.update(jobs)
        .where(
            jobs.c.id == job_id,
            *_held_by(worker),
        )
        .values(
            status=JobStatus.PENDING.value,
            locked_by=None,
            lease_expires_at=None,
            hints=hints,
            run_at=run_at,
            last_error=last_error,
            attempts=jobs.c.attempts - 1 if refund_attempt else jobs.c.attempts,
            updated_at=now,
        )
    )
    if _is_postgres(conn) and result.rowcount == 1 and run_at <= now:
        await conn.execute(sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, job.flow)))
    return result.rowcount == 1


async def _held(conn: AsyncConnection, job_id: int, worker: str) -> Job | None:
    query = sa.select(jobs).where(jobs.c.id == job_id, *_held_by(worker))
    if _is_postgres(conn):
        query = query.with_for_update()
    row = (await conn.execute(query)).one_or_none()
    return None if row is None else _job(row)


async def bury(
    conn: AsyncConnection,
    *,
    job: Job,
    worker: str,
    now: datetime,
    error_class: str,
    error_message: str,
) -> int | None:
    """Mark a held job dead and write its dead letter; return the letter id, None if lease lost."""
    if not await finish(
        conn,
        job_id=job.id,
        worker=worker,
        status=JobStatus.DEAD,
        now=now,
        last_error=f"{error_class}: {error_message}",
    ):
        return None
    return await insert_dead_letter(
        conn, job=job, now=now, error_class=error_class, error_message=error_message
    )


async def list_jobs(
    conn: AsyncConnection,
    *,
    status: JobStatus | None = None,
    flow: str | None = None,
    limit: int = 100,
) -> list[Job]:
    """Return jobs, newest first, optionally of one status and one flow."""
    query = sa.select(jobs).order_by(jobs.c.id.desc()).limit(limit)
    if status is not None:
        query = query.where(jobs.c.status == status.value)
    if flow is not None:
        query = query.where(jobs.c.flow == flow)
    return [_job(r) for r in (await conn.execute(query)).all()]


async def count_by_status(conn: AsyncConnection) -> dict[JobStatus, int]:
    """Return how many jobs are in each status (zero for the missing ones)."""
    rows = (
        await conn.execute(sa.select(jobs.c.status, sa.func.count()).group_by(jobs.c.status))
    ).all()
    counts = dict.fromkeys(JobStatus, 0)
    for status, count in rows:
        counts[JobStatus(status)] = int(count)
    return counts


async def retry_now(conn: AsyncConnection, *, job_ids: list[int], now: datetime) -> list[int]:
    """Make waiting pending jobs due now; return the ids that were pending."""
    if not job_ids:
        return []
    result = await conn.execute(
        sa.update(jobs)
        .where(jobs.c.id.in_(job_ids), jobs.c.status == JobStatus.PENDING.value)
        .values(run_at=now, updated_at=now)
        .returning(jobs.c.id)
    )
    ids = sorted(int(i) for i in result.scalars())
    if ids and _is_postgres(conn):
        await conn.execute(sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, "")))
    return ids


async def prune_done(conn: AsyncConnection, *, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` done jobs finished before ``before``, with their attempts."""
    oldest = (
        sa.select(jobs.c.id)
        .where(jobs.c.status == JobStatus.DONE.value, jobs.c.updated_at < before)
        .limit(limit)
    )
    ids = list((await conn.execute(oldest)).scalars())
    if not ids:
        return 0
    await conn.execute(sa.delete(attempts).where(attempts.c.job_id.in_(ids)))
    result = await conn.execute(
        sa.delete(jobs).where(jobs.c.id.in_(ids), jobs.c.status == JobStatus.DONE.value)
    )
    return result.rowcount
