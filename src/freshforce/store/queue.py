"""The SQL of the job queue's jobs table, the same semantics on both backends.

Every transition of a running job (heartbeat, ack, retry, bury, release) is a compare-and-set
fenced by the attempt that holds it: ``WHERE id = :id AND attempts = :n AND locked_by = :me AND
status = 'running'``; callers check what came back. Lease expiry and due times are the
database's clock (store/dbtime.py), never a worker's. A job's identity includes its tenant. The
dialect differences sit here: ``FOR UPDATE SKIP LOCKED``, savepoints and ``NOTIFY`` on
PostgreSQL; on SQLite every transaction is ``BEGIN IMMEDIATE`` (store/engine.py), so writers are
serialised by the write lock and cannot race.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from freshforce.store.attempts import AttemptRecord, Failure, record_attempts
from freshforce.store.dbtime import db_now, db_time
from freshforce.store.dead_letters import insert_dead_letter
from freshforce.store.schema import attempts, jobs

__all__ = [
    "NOTIFY_CHANNEL",
    "Hint",
    "Job",
    "JobRequest",
    "JobStatus",
    "ack",
    "bury",
    "claim",
    "count_by_status",
    "enqueue",
    "heartbeat",
    "list_jobs",
    "lock_held",
    "merge_hints",
    "prune_done",
    "reclaim_expired",
    "requeue",
    "retry_now",
]

NOTIFY_CHANNEL = "freshforce_jobs"
MAX_HINTS = 100
_RACE_TRIES = 8
FAIR_WINDOW = 4  # claim-order jobs looked at, per job asked for, to see which tenants lead
_DEADLOCK = "40P01"
_MERGE_CHUNK = 200  # identities per merge: within SQLite's 500 branches of a UNION ALL

# A hint is JSON from intake: a string or a small object of JSON values.
Hint = str | dict[str, Any]


class JobStatus(StrEnum):
    """Where a job is in its life: pending → running → done | dead (or back to pending)."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"


@dataclass(frozen=True)
class JobRequest:
    """Reconcile ``key`` for ``flow`` of ``tenant`` in ``delay`` seconds; lower priority first."""

    flow: str
    key: str
    hints: tuple[Hint, ...] = ()
    delay: float = 0.0
    priority: int = 0
    tenant: str = "default"

    def __post_init__(self) -> None:
        if not self.flow or not self.key or not self.tenant:
            msg = (
                f"a job needs a flow, a key and a tenant, got flow={self.flow!r} "
                f"key={self.key!r} tenant={self.tenant!r}"
            )
            raise ValueError(msg)
        if self.delay < 0:
            msg = f"delay must be >= 0 seconds, got {self.delay} for {self.flow} {self.key}"
            raise ValueError(msg)


@dataclass(frozen=True)
class Job:
    """One row of ``jobs``: reconcile ``key`` for ``flow``; ``attempt`` counts claims so far.

    Times are the database's. For a job just claimed, ``updated_at`` is when it was claimed.
    """

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
    not_before: datetime | None
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
        not_before=m["not_before"],
        locked_by=m["locked_by"],
        lease_expires_at=m["lease_expires_at"],
        last_error=m["last_error"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def _is_postgres(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "postgresql"


def _sqlstate(exc: sa.exc.DBAPIError) -> str | None:
    for error in (exc.orig, getattr(exc.orig, "__cause__", None)):
        code = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


def _least(conn: AsyncConnection, *values: Any) -> sa.ColumnElement[Any]:  # noqa: ANN401 - SQL
    return sa.func.least(*values) if _is_postgres(conn) else sa.func.min(*values)


def _greatest(conn: AsyncConnection, *values: Any) -> sa.ColumnElement[Any]:  # noqa: ANN401 - SQL
    return sa.func.greatest(*values) if _is_postgres(conn) else sa.func.max(*values)


_PENDING = sa.text("status = 'pending'")


def status_is(column: sa.ColumnElement[str], status: JobStatus) -> sa.ColumnElement[bool]:
    """Return ``column = 'status'`` with the status written into the SQL, not bound.

    The partial indexes (``… WHERE status = 'pending'`` / ``'running'``) match a query only when
    its predicate is that literal: asyncpg prepares every statement, PostgreSQL switches a
    prepared statement to a generic plan after five runs, and a generic plan with ``status = $1``
    cannot prove the index predicate, so it would scan every row of that status instead.
    """
    return column == sa.literal_column(f"'{status.value}'", sa.String)


def _fence(worker: str, held: Sequence[tuple[int, int]]) -> list[sa.ColumnElement[bool]]:
    """Return the compare-and-set guard: each (job id, attempt) still runs, leased to ``worker``."""
    if len(held) == 1:
        [(job_id, attempt)] = held
        owned = sa.and_(jobs.c.id == job_id, jobs.c.attempts == attempt)
    else:
        # The plain id list lets the primary key find the rows; the pairs then check attempts.
        owned = sa.and_(
            jobs.c.id.in_([job_id for job_id, _ in held]),
            sa.tuple_(jobs.c.id, jobs.c.attempts).in_(list(held)),
        )
    return [owned, status_is(jobs.c.status, JobStatus.RUNNING), jobs.c.locked_by == worker]


async def enqueue(
    conn: AsyncConnection, requests: Sequence[JobRequest], *, max_attempts: int
) -> list[int]:
    """Add pending jobs, or merge each into the pending one for its (tenant, flow, key).

    A merge keeps the earliest due time but never earlier than a Retry-After floor the pending
    job waits out (``not_before``), the most urgent (lowest) priority and the union of the
    hints; requests for one identity within the list merge first. Due times are the database's
    clock (read once, in this transaction) plus each request's delay. Runs inside the caller's
    transaction; on PostgreSQL inside a savepoint, retried when PostgreSQL breaks a deadlock
    with a concurrent enqueue, so the caller never sees one. Ids come back in request order.
    """
    now = (await conn.execute(sa.select(db_now(conn.dialect.name)))).scalar_one()
    rows = _coalesce(requests, max_attempts, now)
    if not _is_postgres(conn):
        ids = await _enqueue_rows(conn, rows)
    else:
        ids = await _enqueue_retrying_deadlocks(conn, rows)
        if any(r.delay == 0 for r in requests):
            await conn.execute(sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, "")))
    return [ids[r.tenant, r.flow, r.key] for r in requests]


async def _enqueue_retrying_deadlocks(
    conn: AsyncConnection, rows: list[dict[str, Any]]
) -> dict[tuple[str, str, str], int]:
    for attempt in range(_RACE_TRIES):
        try:
            async with conn.begin_nested():
                return await _enqueue_rows(conn, rows)
        except sa.exc.DBAPIError as exc:
            if _sqlstate(exc) != _DEADLOCK or attempt == _RACE_TRIES - 1:
                raise
    raise AssertionError  # pragma: no cover - the loop returns or raises


async def _enqueue_rows(
    conn: AsyncConnection, rows: list[dict[str, Any]]
) -> dict[tuple[str, str, str], int]:
    ids: dict[tuple[str, str, str], int] = {}
    waiting = rows
    while waiting:
        ids.update(await _insert_pending(conn, waiting))
        conflicting = [v for v in waiting if (v["tenant"], v["flow"], v["key"]) not in ids]
        merged: dict[tuple[str, str, str], int] = {}
        for start in range(0, len(conflicting), _MERGE_CHUNK):
            merged.update(await _merge_pending(conn, conflicting[start : start + _MERGE_CHUNK]))
        ids.update(merged)
        # A pending job claimed between insert and merge leaves its request to insert again.
        waiting = [v for v in conflicting if (v["tenant"], v["flow"], v["key"]) not in merged]
    return ids


def _coalesce(
    requests: Sequence[JobRequest], max_attempts: int, now: datetime
) -> list[dict[str, Any]]:
    # Any: column values of jobs rows. Sorted by identity so that concurrent PostgreSQL
    # transactions take the unique-index locks of one round in one order.
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for request in requests:
        identity = (request.tenant, request.flow, request.key)
        row = rows.get(identity)
        if row is None:
            rows[identity] = {
                "tenant": request.tenant,
                "flow": request.flow,
                "key": request.key,
                "status": JobStatus.PENDING.value,
                "priority": request.priority,
                "hints": merge_hints([], request.hints),
                "attempts": 0,
                "max_attempts": max_attempts,
                "run_at": now + timedelta(seconds=request.delay),
                "created_at": now,
                "updated_at": now,
            }
            continue
        row["hints"] = merge_hints(row["hints"], request.hints)
        row["run_at"] = min(row["run_at"], now + timedelta(seconds=request.delay))
        row["priority"] = min(row["priority"], request.priority)
    return [rows[k] for k in sorted(rows)]


async def _insert_pending(
    conn: AsyncConnection, rows: list[dict[str, Any]]
) -> dict[tuple[str, str, str], int]:
    insert = postgresql.insert if _is_postgres(conn) else sqlite.insert
    stmt = (
        insert(jobs)
        .on_conflict_do_nothing(index_elements=["tenant", "flow", "key"], index_where=_PENDING)
        .returning(jobs.c.id, jobs.c.tenant, jobs.c.flow, jobs.c.key)
    )
    # executemany: SQLAlchemy batches it into multi-row INSERTs ("insertmanyvalues") with one
    # cached compilation; a conflicting row returns nothing.
    result = await conn.execute(stmt, rows)
    return {(tenant, flow, key): int(job_id) for job_id, tenant, flow, key in result.all()}


async def _merge_pending(
    conn: AsyncConnection, rows: list[dict[str, Any]]
) -> dict[tuple[str, str, str], int]:
    """Merge each row into the pending job of its identity; return the identities merged.

    The pending jobs are read (on PostgreSQL locked, in identity order) and then all written by
    one statement. An identity missing had its pending job claimed meanwhile.
    """
    if not rows:
        return {}
    by_identity = {(v["tenant"], v["flow"], v["key"]): v for v in rows}
    found: list[tuple[int, tuple[str, str, str], list[Hint] | None]] = []
    for query, identities in _pending_reads(conn, sorted(by_identity)):
        for row in (await conn.execute(query)).all():
            identity = identities[row.key]
            found.append((int(row.id), identity, row.hints))
    if not found:
        return {}
    merged: dict[tuple[str, str, str], int] = {}
    changes: list[tuple[int, list[Hint], datetime, int, datetime]] = []
    for job_id, identity, old_hints in found:
        values = by_identity[identity]
        merged[identity] = job_id
        hints = merge_hints(list(old_hints or []), values["hints"])
        changes.append((job_id, hints, values["run_at"], values["priority"], values["updated_at"]))
    # The rows stay locked (PostgreSQL) or the write lock is held (SQLite): each update hits.
    await _apply_merges(conn, changes)
    return merged


def _pending_reads(
    conn: AsyncConnection, identities: list[tuple[str, str, str]]
) -> list[tuple[sa.Executable, dict[str, tuple[str, str, str]]]]:
    """Return the reads of these identities' pending jobs, each by the partial unique index.

    Each identity is looked up equal on all three columns of the unique index: the only form
    both planners keep an index lookup even before the table was ever analysed (``key IN (…)``
    under tenant and flow is then planned as a scan of every pending job of the flow, or of
    every pending job). PostgreSQL gets one statement per identity, each locking its row, in
    identity order; SQLite, in process and holding the write lock, one ``UNION ALL``.
    """

    def read(tenant: str, flow: str, key: str) -> sa.Select[Any]:
        return sa.select(jobs.c.id, jobs.c.key, jobs.c.hints).where(
            jobs.c.tenant == tenant,
            jobs.c.flow == flow,
            jobs.c.key == key,
            status_is(jobs.c.status, JobStatus.PENDING),
        )

    if _is_postgres(conn):
        return [
            (read(tenant, flow, key).with_for_update(), {key: (tenant, flow, key)})
            for tenant, flow, key in identities
        ]
    reads: list[tuple[sa.Executable, dict[str, tuple[str, str, str]]]] = []
    groups: dict[tuple[str, str], list[str]] = {}
    for tenant, flow, key in identities:
        groups.setdefault((tenant, flow), []).append(key)
    for (tenant, flow), keys in groups.items():
        branches = [read(tenant, flow, key) for key in keys]
        query = branches[0] if len(branches) == 1 else sa.union_all(*branches)
        reads.append((query, {key: (tenant, flow, key) for key in keys}))
    return reads


async def _apply_merges(
    conn: AsyncConnection, changes: list[tuple[int, list[Hint], datetime, int, datetime]]
) -> None:
    """Write merged hints, due times and priorities: one statement on either backend.

    PostgreSQL gets one ``UPDATE … FROM (VALUES …)``; SQLite, in process, an ``executemany``.
    A merge keeps the earliest due time, never before the job's ``not_before`` floor, and the
    most urgent priority.
    """
    names = ("m_id", "m_hints", "m_run_at", "m_priority", "m_updated_at")
    types = (
        sa.BigInteger(),
        jobs.c.hints.type,
        jobs.c.run_at.type,
        sa.Integer(),
        jobs.c.run_at.type,
    )
    if _is_postgres(conn):
        merge = sa.values(
            *(sa.column(n, t) for n, t in zip(names, types, strict=True)), name="merge"
        ).data(changes)
        new = dict(zip(names, merge.c, strict=True))
        # No status test here: the rows are locked since the read found them pending, and a
        # test the planner could answer from the status index would, on a table not yet
        # analysed, turn the join into a scan of every pending job.
        where = [jobs.c.id == new["m_id"]]
    else:
        new = {n: sa.bindparam(n, type_=t) for n, t in zip(names, types, strict=True)}
        where = [jobs.c.id == new["m_id"], status_is(jobs.c.status, JobStatus.PENDING)]
    earliest = _least(conn, jobs.c.run_at, new["m_run_at"])
    update = (
        sa.update(jobs)
        .where(*where)
        .values(
            hints=new["m_hints"],
            run_at=_greatest(conn, earliest, sa.func.coalesce(jobs.c.not_before, earliest)),
            priority=_least(conn, jobs.c.priority, new["m_priority"]),
            updated_at=new["m_updated_at"],
        )
    )
    if _is_postgres(conn):
        await conn.execute(update)
    else:
        await conn.execute(update, [dict(zip(names, c, strict=True)) for c in changes])


async def claim(
    conn: AsyncConnection, *, worker: str, limit: int, lease_seconds: float
) -> list[Job]:
    """Lease up to ``limit`` due pending jobs, at most one per key and none whose key is running.

    Fair across tenants: when the first ``FAIR_WINDOW * limit`` due jobs in claim order
    belong to a few tenants only (a noisy tenant's backlog), up to a quarter of ``limit`` (at
    least one) goes first to the earliest due jobs of the other tenants, so a quiet tenant's
    change is never queued behind another tenant's backlog. The rest is taken in claim order.

    On PostgreSQL rows other claimers hold are skipped (``SKIP LOCKED``). Two claimers can still
    pick two flows of one key at the same moment; the later one then finds the key running when
    its update reaches the unique index. That statement runs in a savepoint and is tried again,
    now seeing the running job and skipping its key, so the clash never fails the caller's
    transaction (nor the reclaims made before it).
    """
    head = await _head_tenants(conn, FAIR_WINDOW * limit) if limit > 1 else None
    taken: list[Job] = []
    if head is not None:
        share = max(1, limit // 4)
        taken = await _claim_guarded(
            conn, worker=worker, limit=share, lease_seconds=lease_seconds, exclude=head
        )
    taken += await _claim_guarded(
        conn, worker=worker, limit=limit - len(taken), lease_seconds=lease_seconds
    )
    return sorted(taken, key=lambda j: (j.priority, j.run_at, j.id))


async def _head_tenants(conn: AsyncConnection, window: int) -> list[str] | None:
    """Return the tenants of the first ``window`` due jobs when they fill it, else None."""
    head = (
        sa.select(jobs.c.tenant)
        .where(
            status_is(jobs.c.status, JobStatus.PENDING), jobs.c.run_at <= db_now(conn.dialect.name)
        )
        .order_by(jobs.c.status, jobs.c.priority, jobs.c.run_at, jobs.c.id)
        .limit(window)
    )
    tenants = list((await conn.execute(head)).scalars())
    if len(tenants) < window:
        return None  # every due job is within reach of the plain claim
    return sorted(set(tenants))


async def _claim_guarded(
    conn: AsyncConnection,
    *,
    worker: str,
    limit: int,
    lease_seconds: float,
    exclude: Sequence[str] = (),
) -> list[Job]:
    if limit <= 0:
        return []
    if not _is_postgres(conn):
        return await _claim_once(
            conn, worker=worker, limit=limit, lease_seconds=lease_seconds, exclude=exclude
        )
    for _ in range(_RACE_TRIES):
        try:
            async with conn.begin_nested():
                return await _claim_once(
                    conn, worker=worker, limit=limit, lease_seconds=lease_seconds, exclude=exclude
                )
        except sa.exc.IntegrityError:
            continue
    return []


async def _claim_once(
    conn: AsyncConnection,
    *,
    worker: str,
    limit: int,
    lease_seconds: float,
    exclude: Sequence[str] = (),
) -> list[Job]:
    dialect = conn.dialect.name
    running = jobs.alias("running")
    others = [jobs.c.tenant.not_in(exclude)] if exclude else []
    candidates = (
        sa.select(jobs.c.id, jobs.c.tenant, jobs.c.key, jobs.c.priority, jobs.c.run_at)
        .where(
            status_is(jobs.c.status, JobStatus.PENDING),
            jobs.c.run_at <= db_now(dialect),
            *others,
            ~sa.exists().where(
                running.c.tenant == jobs.c.tenant,
                running.c.key == jobs.c.key,
                status_is(running.c.status, JobStatus.RUNNING),
            ),
        )
        .order_by(jobs.c.status, jobs.c.priority, jobs.c.run_at, jobs.c.id)
        .limit(limit)
    )
    if _is_postgres(conn):
        candidates = candidates.with_for_update(skip_locked=True)
    locked = candidates.cte("candidates")
    rank = sa.func.row_number().over(
        partition_by=(locked.c.tenant, locked.c.key),
        order_by=(locked.c.priority, locked.c.run_at, locked.c.id),
    )
    ranked = sa.select(locked.c.id, rank.label("rank")).subquery("ranked")
    picked = sa.select(ranked.c.id).where(ranked.c.rank == 1)
    stmt = (
        sa.update(jobs)
        .where(jobs.c.id.in_(picked), status_is(jobs.c.status, JobStatus.PENDING))
        .values(
            status=JobStatus.RUNNING.value,
            locked_by=worker,
            lease_expires_at=db_time(dialect, lease_seconds),
            attempts=jobs.c.attempts + 1,
            updated_at=db_now(dialect),
        )
        .returning(*jobs.c)
    )
    rows = (await conn.execute(stmt)).all()
    return sorted((_job(r) for r in rows), key=lambda j: (j.priority, j.run_at, j.id))


async def reclaim_expired(
    conn: AsyncConnection, *, worker: str, limit: int, lease_seconds: float
) -> list[Job]:
    """Take over running jobs whose lease ran out, as a new attempt; record the lost one.

    The old holder may be ``worker`` itself: the new attempt number fences the old one out.
    """
    dialect = conn.dialect.name
    query = (
        sa.select(jobs.c.id, jobs.c.attempts, jobs.c.locked_by, jobs.c.updated_at)
        .where(
            status_is(jobs.c.status, JobStatus.RUNNING), jobs.c.lease_expires_at < db_now(dialect)
        )
        .order_by(jobs.c.lease_expires_at)
        .limit(limit)
    )
    if _is_postgres(conn):
        query = query.with_for_update(skip_locked=True)
    taken: list[Job] = []
    lost: list[AttemptRecord] = []
    for row in (await conn.execute(query)).all():
        result = await conn.execute(
            sa.update(jobs)
            .where(
                *_fence(row.locked_by, [(row.id, row.attempts)]),
                jobs.c.lease_expires_at < db_now(dialect),
            )
            .values(
                locked_by=worker,
                lease_expires_at=db_time(dialect, lease_seconds),
                attempts=jobs.c.attempts + 1,
                updated_at=db_now(dialect),
            )
            .returning(*jobs.c)
        )
        new = result.one_or_none()
        if new is None:
            continue
        job = _job(new)
        taken.append(job)
        reason = f"lease of worker {row.locked_by} expired; taken over by {worker}"
        lost.append(
            AttemptRecord.ended(
                row.id,
                attempt=row.attempts,
                worker=row.locked_by,
                outcome="lost",
                seconds=(job.updated_at - row.updated_at).total_seconds(),
                failure=Failure("LeaseExpired", reason),
            )
        )
    await record_attempts(conn, lost)
    return taken


async def heartbeat(
    conn: AsyncConnection, *, worker: str, held: Sequence[tuple[int, int]], lease_seconds: float
) -> set[int]:
    """Extend the leases ``worker`` still holds on (job id, attempt) pairs; return those ids."""
    if not held:
        return set()
    result = await conn.execute(
        sa.update(jobs)
        .where(*_fence(worker, held))
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
    query = sa.select(jobs.c.id).where(*_fence(worker, held))
    if _is_postgres(conn):
        query = query.with_for_update()
    return {int(job_id) for job_id in (await conn.execute(query)).scalars()}


async def ack(conn: AsyncConnection, *, worker: str, records: Sequence[AttemptRecord]) -> set[int]:
    """Mark held jobs done with one ``UPDATE`` and write their attempts with one insert.

    Each record names a job attempt ``worker`` holds and how it ended (done or skipped). Only
    the attempts still held are acked and recorded; their job ids come back.
    """
    if not records:
        return set()
    result = await conn.execute(
        sa.update(jobs)
        .where(*_fence(worker, [(r.job_id, r.attempt) for r in records]))
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
    fence = _fence(worker, [(job.id, job.attempt)])
    held = sa.select(jobs.c.hints).where(*fence)
    if _is_postgres(conn):
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
            run_at = _least(conn, run_at, sa.literal(sibling.run_at, jobs.c.run_at.type))
    result = await conn.execute(
        sa.update(jobs)
        .where(*fence)
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
    if _is_postgres(conn) and result.rowcount == 1 and delay == 0:
        await conn.execute(sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, job.flow)))
    return result.rowcount == 1


async def bury(conn: AsyncConnection, *, job: Job, worker: str, failure: Failure) -> int | None:
    """Mark a held job attempt dead and write its dead letter; the letter id, None if lost."""
    result = await conn.execute(
        sa.update(jobs)
        .where(*_fence(worker, [(job.id, job.attempt)]))
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
        query = query.where(status_is(jobs.c.status, status))
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
    if ids and _is_postgres(conn):
        await conn.execute(sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, "")))
    return ids


async def prune_done(conn: AsyncConnection, *, older_than: float, limit: int) -> int:
    """Delete up to ``limit`` done jobs finished ``older_than`` seconds ago, with their attempts."""
    oldest = (
        sa.select(jobs.c.id)
        .where(
            status_is(jobs.c.status, JobStatus.DONE),
            jobs.c.updated_at < db_time(conn.dialect.name, -older_than),
        )
        .limit(limit)
    )
    ids = list((await conn.execute(oldest)).scalars())
    if not ids:
        return 0
    await conn.execute(sa.delete(attempts).where(attempts.c.job_id.in_(ids)))
    result = await conn.execute(
        sa.delete(jobs).where(jobs.c.id.in_(ids), status_is(jobs.c.status, JobStatus.DONE))
    )
    return result.rowcount
