"""Change-stream cursors: read and write a connection's position in one stream, in a transaction.

A cursor is an opaque text value (a poll watermark, a Pub/Sub replay id) that the caller writes
in the same transaction as the events and jobs it covers, so it never runs ahead of them.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from freshforce.store.schema import cursors

__all__ = ["load_cursor", "save_cursor"]


async def load_cursor(conn: AsyncConnection, connection_id: str, stream: str) -> str | None:
    """Return the stored value of ``stream`` for ``connection_id``, or None before the first."""
    query = sa.select(cursors.c.value).where(
        cursors.c.connection_id == connection_id, cursors.c.stream == stream
    )
    return (await conn.execute(query)).scalar_one_or_none()


async def save_cursor(
    conn: AsyncConnection, connection_id: str, stream: str, value: str, *, now: datetime
) -> None:
    """Insert or replace the value of ``stream`` in ``conn``'s transaction."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(cursors).values(
        connection_id=connection_id, stream=stream, value=value, updated_at=now
    )
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=[cursors.c.connection_id, cursors.c.stream],
            set_={"value": statement.excluded.value, "updated_at": statement.excluded.updated_at},
        )
    )
