"""Alerts: record things a person should know about, once per open problem.

An open alert (not resolved) of the same kind for the same connection is not repeated, so a
dead connection that is asked for again and again raises one alert, not a storm.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from freshforce.store.schema import alerts

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["Alert", "list_alerts", "raise_alert"]


@dataclass(frozen=True)
class Alert:
    """One stored alert."""

    id: int
    at: datetime
    severity: str
    kind: str
    message: str
    connection_id: str | None
    resolved_at: datetime | None


async def raise_alert(
    db: AsyncConnection,
    *,
    kind: str,
    message: str,
    now: datetime,
    severity: str = "error",
    connection_id: str | None = None,
) -> int | None:
    """Record an alert unless the same one is still open; return the new id or ``None``."""
    open_one = sa.select(alerts.c.id).where(
        alerts.c.kind == kind,
        alerts.c.resolved_at.is_(None),
        alerts.c.connection_id.is_(None)
        if connection_id is None
        else alerts.c.connection_id == connection_id,
    )
    if (await db.execute(open_one.limit(1))).first() is not None:
        return None
    values = {
        "at": now,
        "severity": severity,
        "kind": kind,
        "message": message,
        "connection_id": connection_id,
    }
    result = await db.execute(sa.insert(alerts).values(values).returning(alerts.c.id))
    return int(result.scalar_one())


async def list_alerts(db: AsyncConnection, *, connection_id: str | None = None) -> list[Alert]:
    """Return alerts (of one connection when given), oldest first."""
    query = sa.select(alerts).order_by(alerts.c.id)
    if connection_id is not None:
        query = query.where(alerts.c.connection_id == connection_id)
    return [
        Alert(
            id=row.id,
            at=row.at,
            severity=row.severity,
            kind=row.kind,
            message=row.message,
            connection_id=row.connection_id,
            resolved_at=row.resolved_at,
        )
        for row in await db.execute(query)
    ]
