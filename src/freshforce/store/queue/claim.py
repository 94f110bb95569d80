"""Claim due pending jobs (fair, one per key, none whose key runs); take over expired leases.

A claim surveys the queue: the tenants of the jobs at the head of the claim order, whether a
tenant outside them has pending jobs, and whether some lease has run out. On PostgreSQL, when no
lease ran out and no fair share applies, the survey and the claim are one statement outside any
transaction block (``claim_unless_expired``): one round trip per claim. Every read of the claim
order walks ``ix_jobs_claim_order`` whatever the table's statistics (see ``_WINDOW``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from freshforce.store.attempts import AttemptRecord, Failure, record_attempts
from freshforce.store.dbtime import db_now, db_time
from freshforce.store.queue.model import (
    DEADLOCK,
    RACE_TRIES,
    Job,
    JobStatus,
    fence,
    is_postgres,
    row_job,
    row_jobs,
    sqlstate,
    status_is,
)
from freshforce.store.schema import jobs

__all__ = ["FAIR_WINDOW", "claim", "claim_unless_expired", "reclaim_expired"]

FAIR_WINDOW = 4  # claim-order jobs looked at, per job asked for, to see which tenants lead
MAX_CLAIM = 10_000  # jobs one claim leases at most (worker_batch_size's upper bound)

_NOW = {"postgresql": "now()", "sqlite": "strftime('%Y-%m-%d %H:%M:%f000', 'now')"}
# A LIMIT PostgreSQL cannot read when it plans (a scalar subquery, not a constant) makes it plan
# for a tenth of the matching rows: an ordered walk of ix_jobs_claim_order, which stops after
# the limit, then always costs less than fetching every match and sorting it. With the limit
# as a constant, on a table not analysed (a fresh backlog) it estimates a handful of pending
# rows, fewer than the limit, and fetches and sorts the whole backlog instead (500 ms at
# 1,000,000 pending). SQLite plans without statistics and walks the index either way.
#
# The head is read only when two tenants or more have pending jobs (two probes of the pending
# index): with one tenant no fair share can apply, and its LIMIT is 0.
# Both probes are ``ORDER BY tenant LIMIT 1``, a form answered by the pending index whatever
# the statistics (an EXISTS would, on an analysed single-tenant table, scan every row).
_WINDOW = """(SELECT CASE WHEN (
    SELECT tenant FROM jobs {by_pending} WHERE status = 'pending' AND tenant > (
      SELECT tenant FROM jobs {by_pending} WHERE status = 'pending' ORDER BY tenant LIMIT 1
    ) ORDER BY tenant LIMIT 1
  ) IS NOT NULL THEN CAST(:window AS INTEGER) ELSE 0 END)"""
# SQLite without statistics would walk the claim-order index and sort: name the one to use.
_BY_PENDING = {"postgresql": "", "sqlite": "INDEXED BY uq_jobs_pending_tenant_flow_key"}

# The head of the claim order (by ix_jobs_claim_order), then the pending tenants in order by
# the pending index (a loose index scan: one probe per tenant) while they are among the head's,
# so at most one tenant outside the head is found; and whether any lease has run out.
_SURVEY = """\
WITH RECURSIVE head AS (
  SELECT tenant FROM jobs WHERE status = 'pending' AND run_at <= {now}
  ORDER BY status, priority, run_at, id LIMIT {window}
), tenants(tenant) AS (
  SELECT (SELECT tenant FROM jobs {by_pending} WHERE status = 'pending' ORDER BY tenant LIMIT 1)
  UNION ALL
  SELECT (
    SELECT j.tenant FROM jobs AS j {by_pending} WHERE j.status = 'pending' AND j.tenant > t.tenant
    ORDER BY j.tenant LIMIT 1
  ) FROM tenants AS t WHERE t.tenant IN (SELECT tenant FROM head)
)
SELECT 'head' AS kind, tenant, count(*) AS n FROM head GROUP BY tenant
UNION ALL
SELECT 'other', tenant, 1 FROM tenants
WHERE tenant IS NOT NULL AND tenant NOT IN (SELECT tenant FROM head)
UNION ALL
SELECT 'expired', NULL, count(*) FROM (
  SELECT 1 FROM jobs WHERE status = 'running' AND lease_expires_at < {now} LIMIT 1
) AS e"""


@dataclass(frozen=True)
class _Survey:
    head: list[str] | None  # the head's tenants when the fair share applies
    expired: bool


async def _survey(conn: AsyncConnection, limit: int) -> _Survey:
    window = FAIR_WINDOW * limit if limit > 1 else 0
    dialect = conn.dialect.name
    query = sa.text(
        _SURVEY.format(
            now=_NOW[dialect],
            by_pending=_BY_PENDING[dialect],
            window=_WINDOW.format(by_pending=_BY_PENDING[dialect]),
        )
    )
    rows = (await conn.execute(query, {"window": window})).all()
    head = {r.tenant: int(r.n) for r in rows if r.kind == "head"}
    other = any(r.kind == "other" for r in rows)
    expired = any(r.kind == "expired" and r.n for r in rows)
    # The fair share goes first when the head fills its window (a backlog) and some other
    # tenant has pending jobs; without one it would look for jobs nobody else has.
    fair = window > 0 and sum(head.values()) >= window and other
    return _Survey(sorted(head) if fair else None, expired)


def _autocommits(conn: AsyncConnection) -> bool:
    return conn.sync_connection is not None and (
        conn.sync_connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
    )


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
    its update reaches the unique index (or two such claims wait on each other and PostgreSQL
    breaks the deadlock). That statement runs in a savepoint (or alone, outside a transaction
    block) and is tried again, now seeing the running job and skipping its key, so the clash
    never fails the caller's transaction (nor the reclaims made before it).
    """
    survey = await _survey(conn, limit)
    return await _claim_surveyed(
        conn, survey, worker=worker, limit=limit, lease_seconds=lease_seconds
    )


async def claim_unless_expired(
    conn: AsyncConnection, *, worker: str, limit: int, lease_seconds: float
) -> list[Job] | None:
    """``claim`` (of at most ``MAX_CLAIM``), or None when some lease has run out: reclaim first.

    Meant for a PostgreSQL connection in autocommit mode, where each statement commits alone.
    While no lease ran out and no fair share applies, the survey and the claim are one
    statement (one round trip); a fair share takes the survey's path (``claim``).
    """
    limit = min(limit, MAX_CLAIM)
    values = {
        "worker": worker,
        "limit": limit,
        "window": FAIR_WINDOW * limit if limit > 1 else 0,
        "lease": float(lease_seconds),
    }
    for _ in range(RACE_TRIES):
        try:
            rows = (await conn.execute(_CLAIM_ALONE, values)).all()
        except sa.exc.IntegrityError:
            continue
        except sa.exc.DBAPIError as exc:
            if sqlstate(exc) != DEADLOCK:
                raise
            continue
        # The gate's row comes alone: when it says expired or fair, nothing was claimed.
        gate = rows[-1].kind if rows else "job"
        if gate == "expired":
            return None
        if gate == "fair":
            return await claim(conn, worker=worker, limit=limit, lease_seconds=lease_seconds)
        return sorted(row_jobs(rows), key=lambda j: (j.priority, j.run_at, j.id))
    return []


# The survey (``_SURVEY``) and the claim in claim order (``_claim_statement``) as one statement,
# for the common case. ``gate`` decides once whether a lease ran out or the fair share applies;
# then nothing is claimed and one row says which. The candidates' walk of the claim order has no
# filter but the running-key check, so the planner's row estimate stays above the limit's
# fraction and it walks the index (``_WINDOW``). The update finds its rows by primary key: they
# are locked, and were pending when locked (a status test there would let the planner, on a
# table not analysed, join through every pending job instead). The constant LIMITs around the
# head and the candidates (never reached: see MAX_CLAIM) keep the row estimates after the
# unreadable LIMITs, a tenth of the table on an analysed one, from growing the plan's cost past
# PostgreSQL's jit_above_cost, which would compile the statement at each run (40-80 ms); they
# keep it about 30,000 at 1,000,000 pending.
_CLAIM_ALONE_SQL = f"""WITH RECURSIVE head AS (
  SELECT tenant FROM (
    SELECT tenant FROM jobs WHERE status = 'pending' AND run_at <= now()
    ORDER BY status, priority, run_at, id LIMIT {_WINDOW.format(by_pending="")}
  ) AS h LIMIT {FAIR_WINDOW * MAX_CLAIM}
), tenants(tenant) AS (
  SELECT (SELECT tenant FROM jobs WHERE status = 'pending' ORDER BY tenant LIMIT 1)
  UNION ALL
  SELECT (
    SELECT j.tenant FROM jobs AS j WHERE j.status = 'pending' AND j.tenant > t.tenant
    ORDER BY j.tenant LIMIT 1
  ) FROM tenants AS t WHERE t.tenant IN (SELECT tenant FROM head)
), gate AS (
  SELECT
    EXISTS (SELECT 1 FROM jobs WHERE status = 'running' AND lease_expires_at < now()) AS expired,
    CAST(:window AS INTEGER) > 0
      AND (SELECT count(*) FROM head) >= CAST(:window AS INTEGER)
      AND EXISTS (
        SELECT 1 FROM tenants WHERE tenant IS NOT NULL AND tenant NOT IN (SELECT tenant FROM head)
      ) AS fair
), candidates AS (
  SELECT j.id, j.tenant, j.key, j.priority, j.run_at FROM jobs AS j
  WHERE j.status = 'pending' AND j.run_at <= now()
    AND (SELECT NOT expired AND NOT fair FROM gate)
    AND NOT EXISTS (
      SELECT 1 FROM jobs AS r WHERE r.tenant = j.tenant AND r.key = j.key AND r.status = 'running'
    )
  ORDER BY j.status, j.priority, j.run_at, j.id LIMIT (SELECT CAST(:limit AS INTEGER))
  FOR UPDATE OF j SKIP LOCKED
), picked AS (
  SELECT c.id FROM (
    SELECT id, row_number() OVER (PARTITION BY tenant, key ORDER BY priority, run_at, id) AS rank
    FROM (SELECT * FROM candidates LIMIT {MAX_CLAIM}) AS u
  ) AS c WHERE c.rank = 1
), claimed AS (
  UPDATE jobs SET status = 'running', locked_by = CAST(:worker AS VARCHAR),
    lease_expires_at = now() + make_interval(secs => CAST(:lease AS FLOAT8)),
    attempts = jobs.attempts + 1, updated_at = now()
  WHERE jobs.id IN (SELECT id FROM picked)
  RETURNING {", ".join(f"jobs.{c.name}" for c in jobs.c)}
)
SELECT 'job' AS kind, claimed.* FROM claimed
UNION ALL
SELECT CASE WHEN expired THEN 'expired' ELSE 'fair' END, {", ".join("NULL" for _ in jobs.c)}
FROM gate WHERE expired OR fair"""  # noqa: S608 - constants only
_CLAIM_ALONE = sa.text(_CLAIM_ALONE_SQL).columns(sa.column("kind", sa.String), *jobs.c)


async def _claim_surveyed(
    conn: AsyncConnection, survey: _Survey, *, worker: str, limit: int, lease_seconds: float
) -> list[Job]:
    taken: list[Job] = []
    if survey.head is not None:
        share = max(1, limit // 4)
        taken = await _claim_guarded(
            conn, worker=worker, limit=share, lease_seconds=lease_seconds, exclude=survey.head
        )
    taken += await _claim_guarded(
        conn, worker=worker, limit=limit - len(taken), lease_seconds=lease_seconds
    )
    return sorted(taken, key=lambda j: (j.priority, j.run_at, j.id))


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
    if not is_postgres(conn):
        return await _claim_once(
            conn, worker=worker, limit=limit, lease_seconds=lease_seconds, exclude=exclude
        )
    alone = _autocommits(conn)
    for _ in range(RACE_TRIES):
        try:
            if alone:
                return await _claim_once(
                    conn, worker=worker, limit=limit, lease_seconds=lease_seconds, exclude=exclude
                )
            async with conn.begin_nested():
                return await _claim_once(
                    conn, worker=worker, limit=limit, lease_seconds=lease_seconds, exclude=exclude
                )
        except sa.exc.IntegrityError:
            continue
        except sa.exc.DBAPIError as exc:
            # Two claims that each picked a key the other is setting running wait on each
            # other's unique-index entry: PostgreSQL aborts one statement, which tries again.
            if sqlstate(exc) != DEADLOCK:
                raise
    return []


async def _claim_once(
    conn: AsyncConnection,
    *,
    worker: str,
    limit: int,
    lease_seconds: float,
    exclude: Sequence[str] = (),
) -> list[Job]:
    stmt = _claim_statement(conn.dialect.name, excluding=bool(exclude))
    values: dict[str, object] = {"worker": worker, "limit": limit, "lease": float(lease_seconds)}
    if exclude:
        values["exclude"] = list(exclude)
    rows = (await conn.execute(stmt, values)).all()
    return sorted(row_jobs(rows), key=lambda j: (j.priority, j.run_at, j.id))


_CLAIMS: dict[tuple[str, bool], sa.Update] = {}


def _planned_limit(dialect: str) -> sa.ColumnElement[int]:
    """Return the claim's LIMIT: on PostgreSQL a subquery the planner cannot read (``_WINDOW``)."""
    limit = sa.bindparam("limit", type_=sa.Integer)
    if dialect != "postgresql":
        return limit
    return sa.select(sa.cast(limit, sa.Integer)).scalar_subquery()


def _claim_statement(dialect: str, *, excluding: bool) -> sa.Update:
    """Return the claim's one statement, built once per dialect (its cache key, too).

    The due pending jobs in claim order whose key is not running (on PostgreSQL locked,
    skipping rows other claimers hold), the first per key, set running for this worker.
    """
    built = _CLAIMS.get((dialect, excluding))
    if built is not None:
        return built
    running = jobs.alias("running")
    others = [jobs.c.tenant.not_in(sa.bindparam("exclude", expanding=True))] if excluding else []
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
        .limit(_planned_limit(dialect))
    )
    if dialect == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    locked = candidates.cte("candidates")
    rank = sa.func.row_number().over(
        partition_by=(locked.c.tenant, locked.c.key),
        order_by=(locked.c.priority, locked.c.run_at, locked.c.id),
    )
    ranked = sa.select(locked.c.id, rank.label("rank")).subquery("ranked")
    picked = sa.select(ranked.c.id).where(ranked.c.rank == 1)
    # On PostgreSQL the candidates are locked and were pending when locked: the update finds
    # them by primary key alone (see _CLAIM_ALONE_SQL).
    pending = [] if dialect == "postgresql" else [status_is(jobs.c.status, JobStatus.PENDING)]
    stmt = (
        sa.update(jobs)
        .where(jobs.c.id.in_(picked), *pending)
        .values(
            status=JobStatus.RUNNING.value,
            locked_by=sa.bindparam("worker", type_=jobs.c.locked_by.type),
            lease_expires_at=db_time(dialect, sa.bindparam("lease", type_=sa.Float)),
            attempts=jobs.c.attempts + 1,
            updated_at=db_now(dialect),
        )
        .returning(*jobs.c)
    )
    _CLAIMS[dialect, excluding] = stmt
    return stmt


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
    if is_postgres(conn):
        query = query.with_for_update(skip_locked=True)
    taken: list[Job] = []
    lost: list[AttemptRecord] = []
    for row in (await conn.execute(query)).all():
        result = await conn.execute(
            sa.update(jobs)
            .where(
                *fence(row.locked_by, [(row.id, row.attempts)]),
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
        job = row_job(new)
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
