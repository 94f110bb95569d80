"""Forgetting a connection: its row (with the encrypted tokens) and its webhook verifiers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from freshforce.store.schema import connections, webhook_callbacks

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["remove_connection"]


async def remove_connection(db: AsyncConnection, connection_id: str) -> bool:
    """Delete the connection and its webhook callbacks; ``False`` if there was none."""
    await db.execute(
        sa.delete(webhook_callbacks).where(webhook_callbacks.c.connection_id == connection_id)
    )
    gone = await db.execute(sa.delete(connections).where(connections.c.id == connection_id))
    return bool(gone.rowcount)
