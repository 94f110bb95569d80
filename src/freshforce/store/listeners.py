"""What the dashboard shows of the change-stream listeners: who holds which stream, where it is.

A stream's lease is ``<connection>/<stream>`` (intake/stream.py) and its cursor is stored under
``(connection, stream)``; the last event per system and source comes from ``events``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from freshforce.store.dbtime import db_now
from freshforce.store.schema import cursors, events, leases

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["LastEvent", "StreamRow", "UnheldStream", "last_events", "stream_rows", "unheld_streams"]


@dataclass(frozen=True)
class StreamRow:
    """One stream: its lease (holder, expiry) and its stored cursor (text, when saved).

    ``holder`` is None when nobody holds an unexpired lease (by the database's clock).
    """

    connection_id: str
    stream: str
    holder: str | None
    lease_expires_at: datetime | None
    cursor: str | None
    cursor_updated_at: datetime | None


@dataclass(frozen=True)
class LastEvent:
    """The newest event stored from one system by one source (webhook, cdc, poll)."""

    system: str
    source: str
    received_at: datetime
    count: int


async def stream_rows(db: AsyncConnection) -> list[StreamRow]:
    """Return every stream with a lease or a cursor, sorted by connection and stream."""
    found: dict[tuple[str, str], dict[str, object]] = {}
    live = (leases.c.expires_at > db_now(db.dialect.name)).label("live")
    for row in await db.execute(sa.select(leases, live)):
        connection_id, _, stream = str(row.name).partition("/")
        found.setdefault((connection_id, stream), {}).update(
            holder=row.holder if row.live else None, lease_expires_at=row.expires_at
        )
    for row in await db.execute(sa.select(cursors)):
        found.setdefault((row.connection_id, row.stream), {}).update(
            cursor=row.value, cursor_updated_at=row.updated_at
        )
    return [
        StreamRow(
            connection_id,
            stream,
            holder=values.get("holder"),  # type: ignore[arg-type]  # str or absent
            lease_expires_at=values.get("lease_expires_at"),  # type: ignore[arg-type]
            cursor=values.get("cursor"),  # type: ignore[arg-type]
            cursor_updated_at=values.get("cursor_updated_at"),  # type: ignore[arg-type]
        )
        for (connection_id, stream), values in sorted(found.items())
    ]


@dataclass(frozen=True)
class UnheldStream:
    """A stream with a stored cursor that no process has held for ``seconds``."""

    connection_id: str
    stream: str
    seconds: float


async def unheld_streams(db: AsyncConnection, longer_than: float) -> list[UnheldStream]:
    """Return the streams nobody has held for more than ``longer_than`` seconds (db clock).

    A stream counts once it has a cursor; it is unheld since its lease expired, or since its
    cursor last moved when it has no lease row (released on a clean stop, or never taken).
    """
    now = (await db.execute(sa.select(db_now(db.dialect.name)))).scalar_one()
    held = {str(r.name): r.expires_at for r in await db.execute(sa.select(leases))}
    found: list[UnheldStream] = []
    for row in await db.execute(
        sa.select(cursors).order_by(cursors.c.connection_id, cursors.c.stream)
    ):
        since = held.get(f"{row.connection_id}/{row.stream}", row.updated_at)
        seconds = (now - since).total_seconds()
        if seconds > longer_than:
            found.append(UnheldStream(row.connection_id, row.stream, seconds))
    return found


async def last_events(db: AsyncConnection) -> list[LastEvent]:
    """Return the newest event and the count per system and source (echoes left out)."""
    query = (
        sa.select(
            events.c.system,
            events.c.source,
            sa.func.max(events.c.received_at).label("at"),
            sa.func.count().label("n"),
        )
        .where(events.c.source != "echo")
        .group_by(events.c.system, events.c.source)
        .order_by(events.c.system, events.c.source)
    )
    rows = (await db.execute(query)).all()
    return [LastEvent(r.system, r.source, r.at, int(r.n)) for r in rows]
