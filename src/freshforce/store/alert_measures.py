"""The SQL alert rules measure: failures and dead letters, conflicts, the newest webhook's age.

Windows end at the database's clock, which stamps the rows they count, so no process's clock
shifts them. The oldest waiting job's age is ``overview.oldest_pending_age``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from freshforce.store.dbtime import db_now, db_time
from freshforce.store.schema import attempts, conflicts, dead_letters, events

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = [
    "dead_letters_since",
    "failed_attempts_since",
    "open_conflict_count",
    "seconds_since_last_webhook",
]

# Attempt outcomes that are failures: a retry was scheduled, or the job was dead-lettered.
_FAILED = ("retry", "dead")


async def dead_letters_since(db: AsyncConnection, window_seconds: float) -> int:
    """Return how many dead letters were made in the last ``window_seconds`` (replayed or not)."""
    since = db_time(db.dialect.name, -window_seconds)
    query = sa.select(sa.func.count()).where(dead_letters.c.created_at >= since)
    return int((await db.execute(query)).scalar_one())


async def failed_attempts_since(db: AsyncConnection, window_seconds: float) -> int:
    """Return how many job attempts failed (retry or dead) in the last ``window_seconds``."""
    since = db_time(db.dialect.name, -window_seconds)
    query = sa.select(sa.func.count()).where(
        attempts.c.finished_at >= since, attempts.c.outcome.in_(_FAILED)
    )
    return int((await db.execute(query)).scalar_one())


async def open_conflict_count(db: AsyncConnection) -> int:
    """Return how many conflicts wait for review, in every tenant."""
    query = sa.select(sa.func.count()).where(conflicts.c.status == "open")
    return int((await db.execute(query)).scalar_one())


async def seconds_since_last_webhook(db: AsyncConnection) -> float | None:
    """Return how long ago the newest webhook event arrived, or None when none ever did."""
    query = sa.select(sa.func.max(events.c.received_at), db_now(db.dialect.name)).where(
        events.c.source == "webhook"
    )
    newest, now = (await db.execute(query)).one()
    if newest is None:
        return None
    quiet: float = (now - newest).total_seconds()
    return max(quiet, 0.0)
