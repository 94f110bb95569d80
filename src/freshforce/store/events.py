"""Raw change events: intake stores what it received, for lineage, before it acknowledges."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from freshforce.store.schema import events

__all__ = ["NewEvent", "count_events", "insert_events"]


@dataclass(frozen=True)
class NewEvent:
    """One received change: where from, which record, and its payload as it arrived."""

    source: str  # webhook | cdc | poll
    system: str
    object: str
    record_id: str | None
    payload: dict[str, Any]  # JSON as received
    received_at: datetime
    tenant: str = "default"


async def insert_events(conn: AsyncConnection, new: Sequence[NewEvent]) -> int:
    """Store ``new`` in ``conn``'s transaction; return how many rows were written."""
    if not new:
        return 0
    rows = [
        {
            "tenant": e.tenant,
            "source": e.source,
            "system": e.system,
            "object": e.object,
            "record_id": e.record_id,
            "payload": e.payload,
            "received_at": e.received_at,
        }
        for e in new
    ]
    await conn.execute(sa.insert(events), rows)
    return len(rows)


async def count_events(conn: AsyncConnection, *, source: str | None = None) -> int:
    """Return how many events are stored (of one ``source`` when given)."""
    query = sa.select(sa.func.count()).select_from(events)
    if source is not None:
        query = query.where(events.c.source == source)
    return int((await conn.execute(query)).scalar_one())
