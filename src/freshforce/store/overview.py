"""The SQL the dashboard reads: queue depth, oldest waiting job, latency, dead letters.

Queue depth and the last hour's latency are per flow; dead letters are searched by filter. Also
the one dashboard write the queue lacks: discarding a dead letter (the row is deleted; the caller
keeps its content in the audit log, in the same transaction).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from freshforce.store.dbtime import db_now, db_time
from freshforce.store.dead_letters import DeadLetter, dead_letter_from_row, get_dead_letter
from freshforce.store.queue.model import JobStatus, status_is
from freshforce.store.schema import dead_letters, jobs

__all__ = [
    "FlowLatency",
    "QueueDepth",
    "discard_dead_letter",
    "done_latency",
    "job_exists",
    "letter_summary",
    "oldest_pending_age",
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


async def oldest_pending_age(conn: AsyncConnection) -> float | None:
    """Return the oldest pending job's age in seconds, or None when nothing waits.

    Jobs are stamped by the database's clock, so the age is measured against it too.
    """
    query = sa.select(sa.func.min(jobs.c.created_at), db_now(conn.dialect.name)).where(
        status_is(jobs.c.status, JobStatus.PENDING)
    )
    oldest, now = (await conn.execute(query)).one()
    if oldest is None:
        return None
    age: float = (now - oldest).total_seconds()
    return max(age, 0.0)


@dataclass(frozen=True)
class FlowLatency:
    """How many jobs of one flow were done lately, and how long they took from first event."""

    flow: str
    done: int
    p50_seconds: float
    p99_seconds: float


def _percentile(ordered: list[float], share: float) -> float:
    """Nearest-rank percentile of an ascending, non-empty list."""
    return ordered[max(math.ceil(len(ordered) * share), 1) - 1]


async def done_latency(
    conn: AsyncConnection, *, seconds: float = 3600.0, sample: int = 10_000
) -> list[FlowLatency]:
    """Return, per flow, the jobs done in the last ``seconds`` and their latency percentiles.

    A job is created when the first change it carries arrives (later changes to the same record
    join it while it waits) and done once both systems are written, so ``updated_at -
    created_at`` of a done job is the event-to-written latency. The newest ``sample`` jobs
    count; flows are ordered by name.
    """
    query = (
        sa.select(jobs.c.flow, jobs.c.created_at, jobs.c.updated_at)
        .where(jobs.c.status == "done", jobs.c.updated_at >= db_time(conn.dialect.name, -seconds))
        .order_by(jobs.c.updated_at.desc())
        .limit(sample)
    )
    taken: dict[str, list[float]] = {}
    for flow, created, done in await conn.execute(query):
        taken.setdefault(flow, []).append(max((done - created).total_seconds(), 0.0))
    found = []
    for flow in sorted(taken):
        ordered = sorted(taken[flow])
        p50, p99 = _percentile(ordered, 0.5), _percentile(ordered, 0.99)
        found.append(FlowLatency(flow, len(ordered), p50, p99))
    return found


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
    return [dead_letter_from_row(r) for r in await conn.execute(query)]


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
