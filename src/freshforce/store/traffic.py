"""Traffic measures: changes per hour, the last webhook, missed webhooks, records a flow wrote.

Changes come from the ``events`` table; what a flow wrote from the write log (``field_writes``),
counted as distinct records so a record of twenty fields counts once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from freshforce.store.dbtime import db_time
from freshforce.store.schema import events, field_writes

__all__ = [
    "event_systems",
    "hour_counts",
    "last_webhook",
    "missed_by_webhooks",
    "written_counts",
    "wrote_before",
]

_WEEK = timedelta(days=7)
_HOUR = timedelta(hours=1)
_CHANGES = ("webhook", "cdc", "poll")  # echoes of our own writes are not traffic


async def event_systems(db: AsyncConnection) -> list[tuple[str, str]]:
    """Return the (tenant, system) pairs that have events."""
    query = sa.select(events.c.tenant, events.c.system).distinct().order_by("tenant", "system")
    return [(r.tenant, r.system) for r in (await db.execute(query)).all()]


async def _count(
    db: AsyncConnection, tenant: str, system: str, start: datetime, sources: tuple[str, ...]
) -> int:
    c = events.c
    query = sa.select(sa.func.count(sa.distinct(c.record_id))).where(
        c.tenant == tenant, c.system == system, c.source.in_(sources),
        c.received_at > start, c.received_at <= start + _HOUR,
    )  # fmt: skip
    return int((await db.execute(query)).scalar_one())


async def hour_counts(
    db: AsyncConnection,
    tenant: str,
    system: str,
    now: datetime,
    *,
    weeks: int = 4,
    sources: tuple[str, ...] = _CHANGES,
) -> tuple[int, list[int]]:
    """Return the records changed in the hour before ``now`` and in that hour of past weeks."""
    start = now - _HOUR
    current = await _count(db, tenant, system, start, sources)
    past = [
        await _count(db, tenant, system, start - k * _WEEK, sources) for k in range(1, weeks + 1)
    ]
    return current, past


async def last_webhook(
    db: AsyncConnection, tenant: str, system: str, now: datetime
) -> datetime | None:
    """Return when the newest webhook of ``system`` arrived, up to ``now``."""
    c = events.c
    query = sa.select(sa.func.max(c.received_at)).where(
        c.tenant == tenant, c.system == system, c.source == "webhook", c.received_at <= now
    )
    found: datetime | None = (await db.execute(query)).scalar_one()
    return found


async def missed_by_webhooks(
    db: AsyncConnection, tenant: str, system: str, now: datetime, *, window: float = 3600.0
) -> list[str]:
    """Return records the poller found changed in the window that no webhook told about.

    A webhook counts from two hours before the poll until five minutes after it; polls of the
    last five minutes wait for their webhooks.
    """
    c = events.c
    since = now - timedelta(seconds=window)
    late = timedelta(minutes=5)
    mine = (c.tenant == tenant, c.system == system)
    polls = (
        await db.execute(
            sa.select(c.object, c.record_id, c.received_at).where(
                *mine, c.source == "poll", c.received_at > since, c.received_at <= now - late
            )
        )
    ).all()
    if not polls:
        return []
    told: dict[tuple[str, str | None], list[datetime]] = {}
    webhooks = await db.execute(
        sa.select(c.object, c.record_id, c.received_at).where(
            *mine, c.source == "webhook", c.received_at >= since - 2 * _HOUR, c.received_at <= now
        )
    )
    for row in webhooks.all():
        told.setdefault((row.object, row.record_id), []).append(row.received_at)
    missed = {
        f"{p.object} {p.record_id}"
        for p in polls
        if not any(
            p.received_at - 2 * _HOUR <= at <= p.received_at + late
            for at in told.get((p.object, p.record_id), [])
        )
    }
    return sorted(missed)


async def _written(
    db: AsyncConnection,
    tenant: str,
    flow: str,
    seconds: tuple[float, float],
    after: datetime | None,
) -> int:
    c = field_writes.c
    dialect = db.dialect.name
    start, end = seconds
    records = (
        sa.select(c.system, c.record_id)
        .where(c.tenant == tenant, c.flow == flow, c.at > db_time(dialect, start))
        .distinct()
    )
    if end < 0:
        records = records.where(c.at <= db_time(dialect, end))
    if after is not None:
        records = records.where(c.at > after)
    query = sa.select(sa.func.count()).select_from(records.subquery())
    return int((await db.execute(query)).scalar_one())


async def written_counts(
    db: AsyncConnection,
    tenant: str,
    flow: str,
    *,
    window: float,
    after: datetime | None = None,
    days: int = 0,
) -> tuple[int, list[int]]:
    """Return the records the flow wrote in the last ``window`` seconds, and in past hours.

    The first count takes only writes after ``after`` when given; the list holds the records
    written in the hour ending at this time of day on each of the ``days`` days before (on the
    database's clock).
    """
    current = await _written(db, tenant, flow, (-window, 0.0), after)
    day, hour = 86_400.0, 3_600.0
    past = [
        await _written(db, tenant, flow, (-k * day - hour, -k * day), None)
        for k in range(1, days + 1)
    ]
    return current, past


async def wrote_before(db: AsyncConnection, tenant: str, flow: str, seconds: float) -> bool:
    """Whether the write log holds a write of the flow at least ``seconds`` old (its history)."""
    c = field_writes.c
    query = sa.select(c.id).where(
        c.tenant == tenant, c.flow == flow, c.at <= db_time(db.dialect.name, -seconds)
    )
    return (await db.execute(query.limit(1))).first() is not None
