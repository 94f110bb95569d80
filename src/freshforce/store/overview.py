"""The SQL the dashboard reads: queue depth per flow, oldest waiting job, dead letters by filter.

Also the one dashboard write the queue lacks: discarding a dead letter (the row is deleted; the
caller keeps its content in the audit log, in the same transaction).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from freshforce.store.dead_letters import DeadLetter, get_dead_letter
from freshforce.store.schema import dead_letters, jobs

__all__ = [
    "QueueDepth",
    "discard_dead_letter",
    "job_exists",
    "letter_summary",
    "oldest_pending",
    "open_dead_letter_count",
    "queue_depth",
    "search_dead_letters",
]


@dataclass(frozen=True)
class QueueDepth:
    """How many jobs of one flow are in one status."""

    flow: str
    status: str
    count: int


async def queue_depth(conn: AsyncConnection) -> list[QueueDepth]:
    """Return job counts per (flow, status), ordered by flow then status."""
    query = (
        sa.select(jobs.c.flow, jobs.c.status, sa.func.count())
        .group_by(jobs.c.flow, jobs.c.status)
        .order_by(jobs.c.flow, jobs.c.status)
    )
    return [QueueDepth(flow, status, int(n)) for flow, status, n in await conn.execute(query)]


async def oldest_pending(conn: AsyncConnection) -> datetime | None:
    """Return when the oldest pending job was created, or None when nothing waits."""
    query = sa.select(sa.func.min(jobs.c.created_at)).where(jobs.c.status == "pending")
    value: datetime | None = (await conn.execute(query)).scalar_one()
    return value


async def open_dead_letter_count(conn: AsyncConnection) -> int:
    """Return how many dead letters are not replayed yet."""
    query = sa.select(sa.func.count()).where(dead_letters.c.replayed_at.is_(None))
    return int((await conn.execute(query)).scalar_one())


async def search_dead_letters(
    conn: AsyncConnection,
    *,
    flow: str | None = None,
    error_class: str | None = None,
    key: str | None = None,
    include_replayed: bool = False,
    limit: int = 100,
) -> list[DeadLetter]:
    """Return dead letters, newest first, filtered by flow, error class and key substring."""
    query = sa.select(dead_letters).order_by(dead_letters.c.id.desc()).limit(limit)
    if flow:
        query = query.where(dead_letters.c.flow == flow)
    if error_class:
        query = query.where(dead_letters.c.error_class == error_class)
    if key:
        query = query.where(dead_letters.c.key.contains(key, autoescape=True))
    if not include_replayed:
        query = query.where(dead_letters.c.replayed_at.is_(None))
    return [
        DeadLetter(
            id=r.id,
            job_id=r.job_id,
            tenant=r.tenant,
            flow=r.flow,
            key=r.key,
            payload=dict(r.payload),
            error_class=r.error_class,
            error_message=r.error_message,
            attempts=r.attempts,
            created_at=r.created_at,
            edited_at=r.edited_at,
            replayed_at=r.replayed_at,
        )
        for r in await conn.execute(query)
    ]


async def discard_dead_letter(conn: AsyncConnection, letter_id: int) -> DeadLetter | None:
    """Delete a dead letter that was not replayed; return what it held, or None."""
    letter = await get_dead_letter(conn, letter_id)
    if letter is None or letter.replayed_at is not None:
        return None
    result = await conn.execute(
        sa.delete(dead_letters).where(
            dead_letters.c.id == letter_id, dead_letters.c.replayed_at.is_(None)
        )
    )
    return letter if result.rowcount == 1 else None


def letter_summary(letter: DeadLetter) -> dict[str, Any]:  # Any: JSON for the audit row
    """Return what the audit log keeps of a discarded letter."""
    return {
        "flow": letter.flow,
        "key": letter.key,
        "payload": letter.payload,
        "error_class": letter.error_class,
        "attempts": letter.attempts,
    }


async def job_exists(conn: AsyncConnection, job_id: int) -> bool:
    """Say whether a job with this id is stored."""
    return (await conn.execute(sa.select(jobs.c.id).where(jobs.c.id == job_id))).first() is not None
