"""Enqueue: add pending jobs, or merge each into the pending job of its (tenant, flow, key).

Coalescing keeps the earliest due time (never before the job's ``not_before`` floor), the most
urgent priority and the union of the hints. On PostgreSQL a page is one upsert in a savepoint,
retried when PostgreSQL breaks a deadlock with a concurrent enqueue; on SQLite (one writer at a
time) an insert and the merges of the identities it found pending.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from freshforce.store.dbtime import db_now
from freshforce.store.queue.model import (
    DEADLOCK,
    MAX_HINTS,
    NOTIFY_CHANNEL,
    PENDING_WHERE,
    RACE_TRIES,
    Hint,
    JobRequest,
    JobStatus,
    greatest,
    is_postgres,
    least,
    merge_hints,
    sqlstate,
    status_is,
)
from freshforce.store.schema import jobs

__all__ = ["enqueue"]

_MERGE_CHUNK = 200  # identities per merge: within SQLite's 500 branches of a UNION ALL


async def enqueue(
    conn: AsyncConnection, requests: Sequence[JobRequest], *, max_attempts: int
) -> list[int]:
    """Add pending jobs, or merge each into the pending one for its (tenant, flow, key).

    A merge keeps the earliest due time but never earlier than a Retry-After floor the pending
    job waits out (``not_before``), the most urgent (lowest) priority and the union of the
    hints; requests for one identity within the list merge first. Due times are the database's
    clock (its ``now()``, the transaction's start) plus each request's delay. Runs inside the
    caller's transaction. On PostgreSQL the page is one ``INSERT … ON CONFLICT DO UPDATE`` (the
    merge, hint union included, written in SQL) in a savepoint, retried when PostgreSQL breaks a
    deadlock with a concurrent enqueue, so the caller never sees one; on SQLite an insert, then
    a read and a write of the pending jobs it conflicted with. Ids come back in request order.
    """
    if not is_postgres(conn):
        now = (await conn.execute(sa.select(db_now(conn.dialect.name)))).scalar_one()
        ids = await _enqueue_rows(conn, _coalesce(requests, max_attempts, now))
    else:
        ids = await _upsert_retrying_deadlocks(conn, _coalesce(requests, max_attempts, _EPOCH))
        if any(r.delay == 0 for r in requests):
            await conn.execute(sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, "")))
    return [ids[r.tenant, r.flow, r.key] for r in requests]


_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # due times as offsets, for PostgreSQL to add to now()

# The hints of a merge: the pending job's, then the request's, each once (jsonb equality), in
# order of first appearance, the newest MAX_HINTS kept: merge_hints in SQL.
_HINT_UNION = f"""(
    SELECT coalesce(json_agg(u.h ORDER BY u.first), CAST('[]' AS JSON)) FROM (
      SELECT e.h, min(e.ord) AS first FROM (
        SELECT CAST(a.value AS JSONB) AS h, a.ord
        FROM json_array_elements(j.hints) WITH ORDINALITY AS a(value, ord)
        UNION ALL
        SELECT CAST(b.value AS JSONB), b.ord + 1000000000
        FROM json_array_elements(excluded.hints) WITH ORDINALITY AS b(value, ord)
      ) AS e GROUP BY e.h ORDER BY first DESC LIMIT {MAX_HINTS}
    ) AS u
  )"""  # noqa: S608 - constants only

# Arrays in, so the text (and the prepared plan) is one for any page size. The conflict's
# arbiter is the partial unique index of pending jobs: a pending job of the identity is
# merged into (earliest due time, not before its floor; most urgent priority; hint union),
# else a job is inserted (also when the pending one was claimed meanwhile).
_UPSERT = sa.text(
    f"""\
INSERT INTO jobs AS j (tenant, flow, key, status, priority, hints, attempts, max_attempts,
  run_at, created_at, updated_at)
SELECT r.tenant, r.flow, r.key, 'pending', r.priority, CAST(r.hints AS JSON), 0, :max_attempts,
  now() + make_interval(secs => r.delay), now(), now()
FROM unnest(
  CAST(:tenants AS VARCHAR[]), CAST(:flows AS VARCHAR[]), CAST(:keys AS VARCHAR[]),
  CAST(:priorities AS INTEGER[]), CAST(:hints AS TEXT[]), CAST(:delays AS FLOAT8[])
) WITH ORDINALITY AS r(tenant, flow, key, priority, hints, delay, ord)
ORDER BY r.ord
ON CONFLICT (tenant, flow, key) WHERE status = 'pending' DO UPDATE SET
  hints = {_HINT_UNION},
  run_at = greatest(
    least(j.run_at, excluded.run_at), coalesce(j.not_before, least(j.run_at, excluded.run_at))
  ),
  priority = least(j.priority, excluded.priority),
  updated_at = excluded.updated_at
RETURNING j.id, j.tenant, j.flow, j.key"""  # noqa: S608 - constants only
)


async def _upsert(
    conn: AsyncConnection, rows: list[dict[str, Any]]
) -> dict[tuple[str, str, str], int]:
    result = await conn.execute(
        _UPSERT,
        {
            "max_attempts": rows[0]["max_attempts"],
            "tenants": [v["tenant"] for v in rows],
            "flows": [v["flow"] for v in rows],
            "keys": [v["key"] for v in rows],
            "priorities": [v["priority"] for v in rows],
            "hints": [json.dumps(v["hints"]) for v in rows],
            "delays": [(v["run_at"] - _EPOCH).total_seconds() for v in rows],
        },
    )
    return {(tenant, flow, key): int(job_id) for job_id, tenant, flow, key in result.all()}


async def _upsert_retrying_deadlocks(
    conn: AsyncConnection, rows: list[dict[str, Any]]
) -> dict[tuple[str, str, str], int]:
    if not rows:
        return {}
    for attempt in range(RACE_TRIES):
        try:
            async with conn.begin_nested():
                return await _upsert(conn, rows)
        except sa.exc.DBAPIError as exc:
            if sqlstate(exc) != DEADLOCK or attempt == RACE_TRIES - 1:
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
    insert = postgresql.insert if is_postgres(conn) else sqlite.insert
    stmt = (
        insert(jobs)
        .on_conflict_do_nothing(index_elements=["tenant", "flow", "key"], index_where=PENDING_WHERE)
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

    if is_postgres(conn):
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
    if is_postgres(conn):
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
    earliest = least(conn, jobs.c.run_at, new["m_run_at"])
    update = (
        sa.update(jobs)
        .where(*where)
        .values(
            hints=new["m_hints"],
            run_at=greatest(conn, earliest, sa.func.coalesce(jobs.c.not_before, earliest)),
            priority=least(conn, jobs.c.priority, new["m_priority"]),
            updated_at=new["m_updated_at"],
        )
    )
    if is_postgres(conn):
        await conn.execute(update)
    else:
        await conn.execute(update, [dict(zip(names, c, strict=True)) for c in changes])
