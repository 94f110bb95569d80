"""The SQL of the platform event outbox: facts added with their write, drained to Salesforce.

``add_fact`` runs in the caller's transaction (the flow's effects, or the drain's copy of new
dead letters) and adds nothing when the fact's ``event_key`` is already there, so one fact is
one row however often it is announced. The drain reads unpublished rows in id order and marks
each published (with the replay id) or failed (attempts and the error kept).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from freshforce.store.schema import dead_letters, event_outbox

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = [
    "LetterFact",
    "OutboxRow",
    "add_fact",
    "dead_letters_after",
    "mark_failed",
    "mark_published",
    "outbox_rows",
    "unpublished",
]


@dataclass(frozen=True)
class OutboxRow:
    """One announced fact: the event to publish and its field values."""

    id: int
    tenant: str
    event: str
    event_key: str
    fields: dict[str, Any]  # Any: JSON read back from the store
    attempts: int
    published_at: datetime | None
    replay_id: str | None
    last_error: str | None


def _row(found: Any) -> OutboxRow:  # noqa: ANN401 - a SQLAlchemy row mapping
    return OutboxRow(
        id=found["id"],
        tenant=found["tenant"],
        event=found["event"],
        event_key=found["event_key"],
        fields=dict(found["fields"]),
        attempts=found["attempts"],
        published_at=found["published_at"],
        replay_id=found["replay_id"],
        last_error=found["last_error"],
    )


async def add_fact(
    db: AsyncConnection,
    *,
    tenant: str,
    event: str,
    event_key: str,
    fields: Mapping[str, object],
    now: datetime,
) -> bool:
    """Add a fact to announce unless its key is there; return whether a row was added."""
    insert = postgresql.insert if db.dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(event_outbox)
        .values(
            tenant=tenant,
            event=event,
            event_key=event_key,
            fields={**fields, "Event_Key__c": event_key},
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["event_key"])
    )
    return (await db.execute(statement)).rowcount == 1


async def unpublished(db: AsyncConnection, *, limit: int) -> list[OutboxRow]:
    """Return rows not yet published, oldest first."""
    query = (
        sa.select(event_outbox)
        .where(event_outbox.c.published_at.is_(None))
        .order_by(event_outbox.c.id)
        .limit(limit)
    )
    return [_row(r) for r in (await db.execute(query)).mappings()]


async def outbox_rows(db: AsyncConnection) -> list[OutboxRow]:
    """Return every row, oldest first (tests and the operator's view)."""
    query = sa.select(event_outbox).order_by(event_outbox.c.id)
    return [_row(r) for r in (await db.execute(query)).mappings()]


async def mark_published(
    db: AsyncConnection, row_id: int, *, replay_id: str, now: datetime
) -> bool:
    """Record that a row was published; False when it already was."""
    statement = (
        event_outbox.update()
        .where(event_outbox.c.id == row_id, event_outbox.c.published_at.is_(None))
        .values(published_at=now, replay_id=replay_id, attempts=event_outbox.c.attempts + 1)
    )
    return (await db.execute(statement)).rowcount == 1


async def mark_failed(db: AsyncConnection, row_id: int, *, error: str) -> None:
    """Count a failed attempt and keep its error; the row stays due."""
    statement = (
        event_outbox.update()
        .where(event_outbox.c.id == row_id, event_outbox.c.published_at.is_(None))
        .values(attempts=event_outbox.c.attempts + 1, last_error=error[:2000])
    )
    await db.execute(statement)


@dataclass(frozen=True)
class LetterFact:
    """A dead letter to announce: its id and what it says."""

    id: int
    tenant: str
    flow: str
    key: str
    error: str


async def dead_letters_after(db: AsyncConnection, after: int, *, limit: int) -> list[LetterFact]:
    """Return dead letters with an id above ``after``, oldest first."""
    query = (
        sa.select(
            dead_letters.c.id,
            dead_letters.c.tenant,
            dead_letters.c.flow,
            dead_letters.c.key,
            dead_letters.c.error_message,
        )
        .where(dead_letters.c.id > after)
        .order_by(dead_letters.c.id)
        .limit(limit)
    )
    return [
        LetterFact(r.id, r.tenant, r.flow, r.key, r.error_message or "")
        for r in await db.execute(query)
    ]
