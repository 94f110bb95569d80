"""Leases: named, expiring locks held by one holder, taken and kept by compare-and-set.

A change-stream listener (the FreshBooks poller, the Salesforce CDC subscriber) holds the lease
``<connection>/<stream>`` while it runs, so exactly one runs per connection and stream. Every
change is one conditional statement whose row count says whether it won; a holder that stops
renewing loses the lease when it expires and another may take it. Renewing inside the same
transaction as the work it guards makes that work commit only while the lease is still held.
Expiry is decided by the database's clock, so no process's clock decides for another.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from freshforce.store.dbtime import db_now, db_time
from freshforce.store.schema import leases

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["acquire_lease", "lease_holder", "release_lease", "renew_lease"]


async def acquire_lease(db: AsyncConnection, name: str, holder: str, *, ttl: timedelta) -> bool:
    """Take ``name`` for ``holder`` if it is free, expired, or already ``holder``'s."""
    dialect = db.dialect.name
    until = db_time(dialect, ttl.total_seconds())
    insert_class = postgresql.Insert if dialect == "postgresql" else sqlite.Insert
    statement = insert_class(leases).values(name=name, holder=holder, expires_at=until)
    statement = statement.on_conflict_do_update(
        index_elements=[leases.c.name],
        set_={"holder": holder, "expires_at": until},
        where=sa.or_(leases.c.expires_at <= db_now(dialect), leases.c.holder == holder),
    )
    result = await db.execute(statement)
    return result.rowcount == 1


async def renew_lease(db: AsyncConnection, name: str, holder: str, *, ttl: timedelta) -> bool:
    """Extend ``holder``'s unexpired lease; ``False`` means it was lost: stop working."""
    dialect = db.dialect.name
    statement = (
        sa.update(leases)
        .where(
            leases.c.name == name,
            leases.c.holder == holder,
            leases.c.expires_at > db_now(dialect),
        )
        .values(expires_at=db_time(dialect, ttl.total_seconds()))
    )
    return (await db.execute(statement)).rowcount == 1


async def release_lease(db: AsyncConnection, name: str, holder: str) -> bool:
    """Give the lease up if ``holder`` still has it."""
    statement = sa.delete(leases).where(leases.c.name == name, leases.c.holder == holder)
    return (await db.execute(statement)).rowcount == 1


async def lease_holder(db: AsyncConnection, name: str) -> str | None:
    """Return who holds an unexpired ``name``, or ``None``."""
    query = sa.select(leases.c.holder).where(
        leases.c.name == name, leases.c.expires_at > db_now(db.dialect.name)
    )
    return (await db.execute(query)).scalar_one_or_none()
