"""The SQL of the overview's charts: per-minute job outcomes and queue depth over the last hour.

Minutes are counted on the database's clock, which stamps the rows. Queue depth is not sampled:
it is rebuilt backwards from the jobs waiting or running now, the jobs created in each minute
and the jobs that ended (done or dead) in each minute. A burst that coalesced into one waiting
job counts once, as the queue held it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from freshforce.store.dbtime import db_now, db_time
from freshforce.store.queue.model import JobStatus, status_is
from freshforce.store.schema import attempts, jobs

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["MinuteSeries", "minute_series"]

_FAILED = ("retry", "dead")
_ENDED = ("done", "dead")


@dataclass(frozen=True)
class MinuteSeries:
    """One value per minute, oldest first; the last minute is the current one."""

    done: tuple[int, ...]  # attempts that succeeded (done or skipped)
    failed: tuple[int, ...]  # attempts that failed (retry or dead)
    depth: tuple[int, ...]  # jobs waiting or running at the end of each minute


def _minute(dialect: str, column: sa.ColumnElement[datetime]) -> sa.ColumnElement[int]:
    seconds: sa.ColumnElement[Any]  # Any: a number of seconds, of the dialect's type
    if dialect == "postgresql":
        seconds = sa.extract("epoch", column)
    else:
        seconds = sa.cast(sa.func.strftime("%s", column), sa.Integer)
    return sa.cast(sa.func.floor(seconds / 60), sa.Integer)


async def _counts(
    db: AsyncConnection,
    column: sa.ColumnElement[datetime],
    since: int,
    *where: sa.ColumnElement[bool],
) -> dict[int, int]:
    bucket = _minute(db.dialect.name, column).label("minute")
    start = db_time(db.dialect.name, -(since + 1) * 60.0)
    query = sa.select(bucket, sa.func.count()).where(column >= start, *where).group_by(bucket)
    return {int(minute): int(n) for minute, n in await db.execute(query)}


async def minute_series(db: AsyncConnection, minutes: int = 60) -> MinuteSeries:
    """Return the last ``minutes`` minutes of job outcomes and queue depth."""
    dialect = db.dialect.name
    now_minute = int((await db.execute(sa.select(_minute(dialect, db_now(dialect))))).scalar_one())
    first = now_minute - minutes + 1
    outcome = attempts.c.outcome
    done = await _counts(db, attempts.c.finished_at, minutes, outcome.in_(("done", "skipped")))
    failed = await _counts(db, attempts.c.finished_at, minutes, outcome.in_(_FAILED))
    created = await _counts(db, jobs.c.created_at, minutes)
    ended = await _counts(db, jobs.c.updated_at, minutes, jobs.c.status.in_(_ENDED))
    # One count per status, each answered by that status's partial index.
    waiting = [
        sa.select(sa.func.count()).where(status_is(jobs.c.status, s)).scalar_subquery()
        for s in (JobStatus.PENDING, JobStatus.RUNNING)
    ]
    depth_now = int((await db.execute(sa.select(waiting[0] + waiting[1]))).scalar_one())
    depth: list[int] = []
    level = depth_now
    for minute in range(now_minute, first - 1, -1):
        depth.append(max(level, 0))
        level += ended.get(minute, 0) - created.get(minute, 0)  # the level a minute earlier
    span = range(first, now_minute + 1)
    return MinuteSeries(
        done=tuple(done.get(m, 0) for m in span),
        failed=tuple(failed.get(m, 0) for m in span),
        depth=tuple(reversed(depth)),
    )
