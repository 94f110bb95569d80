"""Snapshots: every mapped field of a link as of its last sync, the base of the three-way compare.

Next to the fields, a snapshot keeps each side's own modified time as last seen (FreshBooks'
``updated``, converted to UTC by the caller; Salesforce's ``LastModifiedDate``), which is
what ``newest_wins`` compares. Reads are batched: a flow loads the snapshots of a whole batch
of links in one query.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from freshforce.store.dbtime import db_now
from freshforce.store.schema import snapshots

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["Snapshot", "load_snapshots", "save_snapshot"]


@dataclass(frozen=True)
class Snapshot:
    """A link's fields as of its last sync, keyed by field name (``Account.Name``)."""

    fields: Mapping[str, Any] = field(default_factory=dict)  # Any: JSON wire values
    freshbooks_modified_at: datetime | None = None
    salesforce_modified_at: datetime | None = None
    synced_at: datetime | None = None  # set by the store when saved


async def save_snapshot(db: AsyncConnection, link_id: int, snapshot: Snapshot) -> None:
    """Store (insert or replace) the snapshot of link ``link_id``, stamped with database time."""
    insert = postgresql.insert if db.dialect.name == "postgresql" else sqlite.insert
    values = {
        "fields": dict(snapshot.fields),
        "freshbooks_modified_at": snapshot.freshbooks_modified_at,
        "salesforce_modified_at": snapshot.salesforce_modified_at,
        "synced_at": db_now(db.dialect.name),
    }
    statement = insert(snapshots).values(link_id=link_id, **values)
    statement = statement.on_conflict_do_update(index_elements=[snapshots.c.link_id], set_=values)
    await db.execute(statement)


async def load_snapshots(db: AsyncConnection, link_ids: Iterable[int]) -> dict[int, Snapshot]:
    """Return the snapshot of each link in ``link_ids`` that has one, in one query."""
    wanted = sorted(set(link_ids))
    if not wanted:
        return {}
    query = sa.select(snapshots).where(snapshots.c.link_id.in_(wanted))
    return {
        row.link_id: Snapshot(
            fields=dict(row.fields),
            freshbooks_modified_at=row.freshbooks_modified_at,
            salesforce_modified_at=row.salesforce_modified_at,
            synced_at=row.synced_at,
        )
        for row in (await db.execute(query)).all()
    }
