"""Alerts: record things a person should know about, once per open problem, and their recovery.

An open alert (not resolved) of the same kind for the same connection is not repeated, so a
dead connection that is asked for again and again raises one alert, not a storm. When the problem
goes away, ``resolve_alerts`` sets ``resolved_at`` on the open ones and records one recovery
notice (severity ``info``, stored already resolved since there is nothing left to fix, and not yet
delivered), so the next incident alerts again and alert delivery can tell people it is over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from freshforce.store.schema import alerts

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = [
    "Alert",
    "AlertKind",
    "claim_undelivered",
    "list_alerts",
    "open_alert_connections",
    "raise_alert",
    "release_delivery",
    "resolve_alerts",
]


class AlertKind(StrEnum):
    """The kinds of alert the engine raises, and the notices that close them."""

    CONNECTION_AUTH_FAILED = "connection_auth_failed"  # refresh refused: the connection paused
    CONNECTION_AUTH_RECOVERED = "connection_auth_recovered"  # reconnected, or refreshed again


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


def _of_connection(connection_id: str | None) -> sa.ColumnElement[bool]:
    if connection_id is None:
        return alerts.c.connection_id.is_(None)
    return alerts.c.connection_id == connection_id


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
        alerts.c.kind == kind, alerts.c.resolved_at.is_(None), _of_connection(connection_id)
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


async def resolve_alerts(
    db: AsyncConnection,
    *,
    kind: str,
    connection_id: str | None,
    notice_kind: str,
    message: str,
    now: datetime,
) -> int | None:
    """Resolve the connection's open ``kind`` alerts; if any was open, record a recovery notice.

    ``connection_id=None`` resolves the ``kind`` alerts that belong to no connection.

    Return the notice's id, or ``None`` when nothing was open. Two processes resolving at once
    record one notice: the second ``UPDATE`` finds the alerts already resolved.
    """
    resolve = (
        sa.update(alerts)
        .where(
            alerts.c.kind == kind,
            _of_connection(connection_id),
            alerts.c.resolved_at.is_(None),
        )
        .values(resolved_at=now)
        .returning(alerts.c.id)
    )
    resolved = sorted(int(i) for i in (await db.execute(resolve)).scalars())
    if not resolved:
        return None
    ids = ", ".join(str(i) for i in resolved)
    values = {
        "at": now,
        "severity": "info",
        "kind": notice_kind,
        "message": f"{message} (resolves alert {ids})",
        "connection_id": connection_id,
        "resolved_at": now,
    }
    result = await db.execute(sa.insert(alerts).values(values).returning(alerts.c.id))
    return int(result.scalar_one())


async def open_alert_connections(db: AsyncConnection, kind: str) -> set[str | None]:
    """Return the connections (``None``: no connection) with an open ``kind`` alert."""
    query = sa.select(alerts.c.connection_id).where(
        alerts.c.kind == kind, alerts.c.resolved_at.is_(None)
    )
    return set((await db.execute(query.distinct())).scalars())


async def claim_undelivered(db: AsyncConnection, *, now: datetime, limit: int = 50) -> list[Alert]:
    """Mark up to ``limit`` undelivered alerts delivered and return them, oldest first.

    Each is a compare-and-set on ``delivered_at IS NULL``: of two processes delivering at once,
    one gets each alert. A sender that fails hands it back with :func:`release_delivery`.
    """
    pending = sa.select(alerts.c.id).where(alerts.c.delivered_at.is_(None))
    ids = list((await db.execute(pending.order_by(alerts.c.id).limit(limit))).scalars())
    claimed: list[Alert] = []
    for alert_id in ids:
        statement = (
            sa.update(alerts)
            .where(alerts.c.id == alert_id, alerts.c.delivered_at.is_(None))
            .values(delivered_at=now)
            .returning(*alerts.c)
        )
        claimed += [_alert(row) for row in await db.execute(statement)]
    return claimed


async def release_delivery(db: AsyncConnection, alert_ids: list[int]) -> None:
    """Mark alerts undelivered again, so the next round sends them."""
    if alert_ids:
        statement = sa.update(alerts).where(alerts.c.id.in_(alert_ids)).values(delivered_at=None)
        await db.execute(statement)


def _alert(row: sa.Row[Any]) -> Alert:
    return Alert(
        id=row.id,
        at=row.at,
        severity=row.severity,
        kind=row.kind,
        message=row.message,
        connection_id=row.connection_id,
        resolved_at=row.resolved_at,
    )


async def list_alerts(db: AsyncConnection, *, connection_id: str | None = None) -> list[Alert]:
    """Return alerts (of one connection when given), oldest first."""
    query = sa.select(alerts).order_by(alerts.c.id)
    if connection_id is not None:
        query = query.where(alerts.c.connection_id == connection_id)
    return [_alert(row) for row in await db.execute(query)]
