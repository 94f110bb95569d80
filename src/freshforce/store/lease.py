"""Leases: named, expiring locks held by one holder, taken and kept by compare-and-set.

A change-stream listener (the FreshBooks poller, the Salesforce CDC subscriber) holds the lease
``<connection>/<stream>`` while it runs, so exactly one runs per connection and stream. Every
change is one conditional statement whose row count says whether it won; a holder that stops
renewing loses the lease when it expires and another may take it. Renewing inside the same
transaction as the work it guards makes that work commit only while the lease is still held.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from freshforce.store.schema import leases

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["acquire_lease", "lease_holder", "release_lease", "renew_lease"]


async def acquire_lease(
    db: AsyncConnection, name: str, holder: str, *, ttl: timedelta, now: datetime
) -> bool:
    """Take ``name`` for ``holder`` if it is free, expired, or already ``holder``'s."""
    insert_class = postgresql.Insert if db.dialect.name == "postgresql" else sqlite.Insert
    statement = insert_class(leases).values(name=name, holder=holder, expires_at=now + ttl)
    statement = statement.on_conflict_do_update(
        index_elements=[leases.c.name],
        set_={"holder": holder, "expires_at": now + ttl},
        where=sa.or_(leases.c.expires_at <= now, leases.c.holder == holder),
    )
    result = await db.execute(statement)
    return result.rowcount == 1


async def renew_lease(
    db: AsyncConnection, name: str, holder: str, *, ttl: timedelta, now: datetime
) -> bool:
    """Extend ``holder``'s unexpired lease; ``False`` means it was lost: stop working."""
    statement = (
        sa.update(leases)
        .where(leases.c.name == name, leases.c.holder == holder, leases.c.expires_at > now)
        .values(expires_at=now + ttl)
    )
    return (await db.execute(statement)).rowcount == 1


async def release_lease(db: AsyncConnection, name: str, holder: str) -> bool:
    """Give the lease up if ``holder`` still has it."""
    statement = sa.delete(leases).where(leases.c.name == name, leases.c.holder == holder)
    return (await db.execute(statement)).rowcount == 1


async def lease_holder(db: AsyncConnection, name: str, *, now: datetime) -> str | None:
    """Return who holds an unexpired ``name``, or ``None``."""
    query = sa.select(leases.c.holder).where(leases.c.name == name, leases.c.expires_at > now)
    return (await db.execute(query)).scalar_one_or_none()
