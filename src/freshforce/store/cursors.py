"""Cursors: change-stream positions (poll watermarks, replay ids) per connection and stream.

Saved in the caller's transaction, together with the events and jobs they cover, so a cursor
never runs ahead of stored work.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from freshforce.store.schema import cursors

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["load_cursor", "save_cursor"]


async def load_cursor(db: AsyncConnection, connection_id: str, stream: str) -> str | None:
    """Return the stored position, or ``None`` before the first save."""
    query = sa.select(cursors.c.value).where(
        cursors.c.connection_id == connection_id, cursors.c.stream == stream
    )
    return (await db.execute(query)).scalar_one_or_none()


async def save_cursor(
    db: AsyncConnection, connection_id: str, stream: str, value: str, *, now: datetime
) -> None:
    """Store the position (insert or replace)."""
    insert_class = postgresql.Insert if db.dialect.name == "postgresql" else sqlite.Insert
    statement = insert_class(cursors).values(
        connection_id=connection_id, stream=stream, value=value, updated_at=now
    )
    statement = statement.on_conflict_do_update(
        index_elements=[cursors.c.connection_id, cursors.c.stream],
        set_={"value": value, "updated_at": now},
    )
    await db.execute(statement)
