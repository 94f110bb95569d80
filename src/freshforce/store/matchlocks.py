"""Match locks: a job holds its record's normalised match keys from before its reads to its commit.

Per-key job exclusivity (one running job per record key) cannot see that a FreshBooks client
``Acme, Inc.`` and a Salesforce Account ``ACME`` created in the same second are one business:
their jobs have different keys, no link exists yet, and each would create the other's twin. So
before it reads, a flow takes a lock on each match key of each record (``org:acme``,
``email:ann@acme.com``) in one short transaction; it releases them in its commit transaction,
together with the link it stores. The second job waits (is retried shortly) and, once it holds
the key, reads the link the first one stored.

A lock is a row per (tenant, flow, key) taken by compare-and-set, like a lease: free, expired
(the database's clock), or already the holder's. Taking several keys is all or nothing (a
savepoint), in sorted order so two takers never deadlock on PostgreSQL. On SQLite every
transaction is ``BEGIN IMMEDIATE``, so takers are serialised by the write lock; on PostgreSQL
the primary key makes the second ``INSERT … ON CONFLICT`` wait for the first to commit and
then see its row. Release is fenced by the holder: ``False`` means another job took a key after
this one's lock expired, and the caller's commit should roll back and retry (the re-check).

A job holds its keys as ``job:<id>`` (:func:`job_holder`), not as the worker running it: when a
worker dies mid-job, the job's next attempt takes its own keys back at once, and once the dead
attempt's lease has expired anyone may take them (a key whose holder job is not running under a
live lease is free), so nobody waits for the lock's own expiry. A stale attempt cannot release
or commit anything: its effects are fenced by the job's lease in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from freshforce.store.dbtime import db_now, db_time
from freshforce.store.queue import JobStatus
from freshforce.store.schema import jobs, match_locks

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from freshforce.store.scope import Scope

__all__ = [
    "DEFAULT_TTL_SECONDS",
    "job_holder",
    "match_lock_holders",
    "release_match_locks",
    "take_match_locks",
]

# Longer than a batch's reads and remote writes; a holder that dies frees its keys after this.
DEFAULT_TTL_SECONDS = 120.0


_JOB_PREFIX = "job:"


def job_holder(job_id: int) -> str:
    """Return the holder name of job ``job_id``'s keys, the same for each of its attempts."""
    return f"{_JOB_PREFIX}{job_id}"


def _holder_job_gone(dialect: str) -> sa.ColumnElement[bool]:
    """Select locks whose holder is a job no live lease is running (it died or ended)."""
    running = (
        sa.select(jobs.c.id)
        .where(
            jobs.c.status == JobStatus.RUNNING.value,
            jobs.c.lease_expires_at > db_now(dialect),
            sa.literal(_JOB_PREFIX) + sa.cast(jobs.c.id, sa.String) == match_locks.c.holder,
        )
        .exists()
    )
    return sa.and_(match_locks.c.holder.startswith(_JOB_PREFIX, autoescape=True), ~running)


async def take_match_locks(
    db: AsyncConnection,
    scope: Scope,
    keys: Iterable[str],
    holder: str,
    *,
    ttl: float = DEFAULT_TTL_SECONDS,
) -> bool:
    """Take every key for ``holder`` for ``ttl`` seconds, or none: ``False`` means wait."""
    wanted = sorted(set(keys))
    if not wanted:
        return True
    dialect = db.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    expires = db_time(dialect, ttl)
    # One row of parameters a key, sent as one executemany: the statement stays the same for
    # any number of keys, so SQLAlchemy compiles it once (a multi-row VALUES never caches).
    rows = [
        {"tenant": scope.tenant, "flow": scope.flow, "key": k, "holder": holder} for k in wanted
    ]
    upsert = insert(match_locks).values(expires_at=expires)
    statement = upsert.on_conflict_do_update(
        index_elements=[match_locks.c.tenant, match_locks.c.flow, match_locks.c.key],
        set_={"holder": upsert.excluded.holder, "expires_at": upsert.excluded.expires_at},
        where=sa.or_(
            match_locks.c.expires_at <= db_now(dialect),
            match_locks.c.holder == holder,
            _holder_job_gone(dialect),
        ),
    ).returning(match_locks.c.key)
    async with db.begin_nested() as savepoint:
        taken = (await db.execute(statement, rows)).scalars().all()
        if len(taken) == len(wanted):
            return True
        await savepoint.rollback()
    return False


async def release_match_locks(
    db: AsyncConnection, scope: Scope, keys: Iterable[str], holder: str
) -> bool:
    """Release ``holder``'s keys; ``False`` if any of them is no longer ``holder``'s."""
    wanted = sorted(set(keys))
    if not wanted:
        return True
    statement = sa.delete(match_locks).where(
        match_locks.c.tenant == scope.tenant,
        match_locks.c.flow == scope.flow,
        match_locks.c.key.in_(wanted),
        match_locks.c.holder == holder,
    )
    return (await db.execute(statement)).rowcount == len(wanted)


async def match_lock_holders(
    db: AsyncConnection, scope: Scope, keys: Iterable[str]
) -> dict[str, str]:
    """Return who holds each of ``keys`` now (unexpired), for diagnostics and tests."""
    query = sa.select(match_locks.c.key, match_locks.c.holder).where(
        match_locks.c.tenant == scope.tenant,
        match_locks.c.flow == scope.flow,
        match_locks.c.key.in_(sorted(set(keys))),
        match_locks.c.expires_at > db_now(db.dialect.name),
    )
    return {row.key: row.holder for row in (await db.execute(query)).all()}
