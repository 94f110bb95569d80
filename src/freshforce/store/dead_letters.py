"""The SQL of the dead letters: jobs waiting cannot fix, kept to inspect, edit and replay."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from freshforce.store.dbtime import db_now
from freshforce.store.schema import dead_letters

if TYPE_CHECKING:
    from freshforce.store.attempts import Failure
    from freshforce.store.queue import Job

__all__ = [
    "DeadLetter",
    "dead_letter_from_row",
    "edit_dead_letter",
    "get_dead_letter",
    "insert_dead_letter",
    "list_dead_letters",
    "mark_replayed",
]


@dataclass(frozen=True)
class DeadLetter:
    """A ``dead_letters`` row: a job waiting cannot fix, with its last payload and error."""

    id: int
    job_id: int | None
    tenant: str
    flow: str
    key: str
    payload: dict[str, Any]  # Any: JSON read back from the store
    error_class: str | None
    error_message: str | None
    traceback: str | None
    attempts: int
    created_at: datetime
    edited_at: datetime | None
    replayed_at: datetime | None


async def insert_dead_letter(conn: AsyncConnection, *, job: Job, failure: Failure) -> int:
    """Write the dead letter of ``job`` (its hints as the payload); return the letter id."""
    result = await conn.execute(
        sa.insert(dead_letters)
        .values(
            job_id=job.id,
            tenant=job.tenant,
            flow=job.flow,
            key=job.key,
            payload={"hints": list(job.hints)},
            error_class=failure.error_class,
            error_message=failure.message,
            traceback=failure.traceback,
            attempts=job.attempt,
            created_at=db_now(conn.dialect.name),
        )
        .returning(dead_letters.c.id)
    )
    return int(result.scalar_one())


def dead_letter_from_row(row: Row[Any]) -> DeadLetter:
    m = row._mapping  # noqa: SLF001 - SQLAlchemy's public row mapping accessor
    return DeadLetter(
        id=m["id"],
        job_id=m["job_id"],
        tenant=m["tenant"],
        flow=m["flow"],
        key=m["key"],
        payload=dict(m["payload"]),
        error_class=m["error_class"],
        error_message=m["error_message"],
        traceback=m["traceback"],
        attempts=m["attempts"],
        created_at=m["created_at"],
        edited_at=m["edited_at"],
        replayed_at=m["replayed_at"],
    )


async def list_dead_letters(
    conn: AsyncConnection, *, include_replayed: bool = False, limit: int = 100
) -> list[DeadLetter]:
    """Return dead letters, newest first; replayed ones only when asked."""
    query = sa.select(dead_letters).order_by(dead_letters.c.id.desc()).limit(limit)
    if not include_replayed:
        query = query.where(dead_letters.c.replayed_at.is_(None))
    return [dead_letter_from_row(r) for r in (await conn.execute(query)).all()]


async def get_dead_letter(conn: AsyncConnection, letter_id: int) -> DeadLetter | None:
    """Return one dead letter, or None when there is no such id."""
    row = (
        await conn.execute(sa.select(dead_letters).where(dead_letters.c.id == letter_id))
    ).one_or_none()
    return None if row is None else dead_letter_from_row(row)


async def edit_dead_letter(
    conn: AsyncConnection, *, letter_id: int, payload: dict[str, Any], now: datetime
) -> bool:
    """Replace a dead letter's payload (not once replayed); False when there is no such letter."""
    result = await conn.execute(
        sa.update(dead_letters)
        .where(dead_letters.c.id == letter_id, dead_letters.c.replayed_at.is_(None))
        .values(payload=payload, edited_at=now)
    )
    return result.rowcount == 1


async def mark_replayed(conn: AsyncConnection, *, letter_id: int, now: datetime) -> bool:
    """Mark a dead letter replayed (compare-and-set on not yet replayed)."""
    result = await conn.execute(
        sa.update(dead_letters)
        .where(dead_letters.c.id == letter_id, dead_letters.c.replayed_at.is_(None))
        .values(replayed_at=now)
    )
    return result.rowcount == 1
