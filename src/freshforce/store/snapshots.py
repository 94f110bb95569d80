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

__all__ = ["Snapshot", "load_snapshots", "save_snapshot", "save_snapshots"]


@dataclass(frozen=True)
class Snapshot:
    """A link's fields as of its last sync, keyed by field name (``Account.Name``)."""

    fields: Mapping[str, Any] = field(default_factory=dict)  # Any: JSON wire values
    freshbooks_modified_at: datetime | None = None
    salesforce_modified_at: datetime | None = None
    synced_at: datetime | None = None  # set by the store when saved


async def save_snapshots(db: AsyncConnection, saved: Mapping[int, Snapshot]) -> None:
    """Store (insert or replace) each link's snapshot in one statement, at database time."""
    if not saved:
        return
    dialect = db.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    rows = [
        {
            "link_id": link_id,
            "fields": dict(snap.fields),
            "freshbooks_modified_at": snap.freshbooks_modified_at,
            "salesforce_modified_at": snap.salesforce_modified_at,
        }
        for link_id, snap in sorted(saved.items())
    ]
    # Rows as executemany parameters: one cached statement for any batch size.
    upsert = insert(snapshots).values(synced_at=db_now(dialect))
    replaced = ("fields", "freshbooks_modified_at", "salesforce_modified_at", "synced_at")
    statement = upsert.on_conflict_do_update(
        index_elements=[snapshots.c.link_id],
        set_={name: upsert.excluded[name] for name in replaced},
    )
    await db.execute(statement, rows)


async def save_snapshot(db: AsyncConnection, link_id: int, snapshot: Snapshot) -> None:
    """Store the snapshot of one link (see :func:`save_snapshots`)."""
    await save_snapshots(db, {link_id: snapshot})


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
