"""Events: raw change notifications as received (webhook, CDC, poll), kept for lineage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from freshforce.store.schema import events

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["NewEvent", "record_events"]


@dataclass(frozen=True)
class NewEvent:
    """One notification to keep."""

    source: str  # webhook | cdc | poll
    system: str
    object: str
    record_id: str | None
    payload: Mapping[str, Any]  # the notification as received, JSON
    tenant: str = "default"


async def record_events(db: AsyncConnection, new: Sequence[NewEvent], *, now: datetime) -> int:
    """Insert ``new`` in the caller's transaction; return how many were stored."""
    if not new:
        return 0
    rows = [
        {
            "tenant": e.tenant,
            "source": e.source,
            "system": e.system,
            "object": e.object,
            "record_id": e.record_id,
            "payload": dict(e.payload),
            "received_at": now,
        }
        for e in new
    ]
    await db.execute(sa.insert(events), rows)
    return len(rows)
