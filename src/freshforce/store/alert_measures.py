"""The SQL alert rules measure: dead letters and failed attempts in a window, open conflicts.

Windows end at the database's clock, which stamps the rows they count, so no process's clock
shifts them. The oldest waiting job's age is ``overview.oldest_pending_age``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from freshforce.store.dbtime import db_time
from freshforce.store.schema import attempts, conflicts, dead_letters

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["dead_letters_since", "failed_attempts_since", "open_conflict_count"]

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
