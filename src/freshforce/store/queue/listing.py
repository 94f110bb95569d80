"""Reading and pruning the jobs table: listings, counts by status, pruning done jobs."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from freshforce.store.dbtime import db_time
from freshforce.store.queue.model import Job, JobStatus, row_jobs, status_is
from freshforce.store.schema import attempts, jobs

__all__ = ["count_by_status", "list_jobs", "prune_done"]


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
    return row_jobs((await conn.execute(query)).all())


async def count_by_status(conn: AsyncConnection) -> dict[JobStatus, int]:
    """Return how many jobs are in each status (zero for the missing ones)."""
    rows = (
        await conn.execute(sa.select(jobs.c.status, sa.func.count()).group_by(jobs.c.status))
    ).all()
    counts = dict.fromkeys(JobStatus, 0)
    for status, count in rows:
        counts[JobStatus(status)] = int(count)
    return counts


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
