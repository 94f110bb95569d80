"""Linking: make, change and forget links, inside the engine's commit transaction.

``create_links`` stores a whole batch's new links with their match keys in three statements;
a link whose id another link holds already is refused (``None`` in its place), which is the
re-check a racing job needs. ``move_link`` follows a Salesforce merge; ``unlink`` forgets a link
with its snapshot, match keys and conflicts (the write log keeps its history).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from freshforce.store.dbtime import db_now
from freshforce.store.links import Link, find_links, in_scope, links_by_row, sf_ids
from freshforce.store.schema import link_keys, links

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from freshforce.store.scope import Scope

__all__ = [
    "MoveResult",
    "NewLink",
    "create_link",
    "create_links",
    "move_link",
    "set_link_keys",
    "unlink",
    "update_link",
]


@dataclass(frozen=True)
class NewLink:
    """A link to create; ``keys`` are its normalised match keys (engine/matchkey.py)."""

    freshbooks_id: str | None
    salesforce_id: str | None
    salesforce_secondary_id: str | None = None
    extra_ids: Mapping[str, str] = field(default_factory=dict)
    keys: frozenset[str] = frozenset()

    @property
    def ids(self) -> tuple[str | None, str | None, str | None]:
        return (self.freshbooks_id, self.salesforce_id, self.salesforce_secondary_id)


class MoveResult(StrEnum):
    """What moving a link to a new Salesforce id did."""

    MOVED = "moved"
    NOT_LINKED = "not_linked"  # no link holds the old id: nothing to move
    TARGET_LINKED = "target_linked"  # another link already holds the new id: nothing changed


async def create_links(
    db: AsyncConnection, scope: Scope, new: Sequence[NewLink]
) -> list[Link | None]:
    """Insert ``new`` with their match keys; ``None`` for each whose id is linked already."""
    if not new:
        return []
    insert = postgresql.insert if db.dialect.name == "postgresql" else sqlite.insert
    now = db_now(db.dialect.name)
    rows = [
        {
            "tenant": scope.tenant,
            "flow": scope.flow,
            "freshbooks_id": n.freshbooks_id,
            "salesforce_id": n.salesforce_id,
            "salesforce_secondary_id": n.salesforce_secondary_id,
            "extra_ids": dict(n.extra_ids),
        }
        for n in new
    ]
    # Rows as executemany parameters: one cached statement for any batch size.
    statement = (
        insert(links)
        .values(created_at=now, updated_at=now)
        .on_conflict_do_nothing()
        .returning(*links.c)
    )
    made = {
        (k.freshbooks_id, k.salesforce_id, k.salesforce_secondary_id): k
        for k in links_by_row((await db.execute(statement, rows)).all())
    }
    created = [made.pop(n.ids, None) for n in new]  # pop: a repeated input gets one link
    await _insert_keys(db, {k.id: n.keys for k, n in zip(created, new, strict=True) if k})
    return created


async def create_link(db: AsyncConnection, scope: Scope, new: NewLink) -> Link | None:
    """Insert one link (see :func:`create_links`)."""
    return (await create_links(db, scope, [new]))[0]


async def set_link_keys(db: AsyncConnection, keys: Mapping[int, Iterable[str]]) -> None:
    """Replace the match keys of each link in ``keys`` (link id → its keys)."""
    if keys:
        await db.execute(sa.delete(link_keys).where(link_keys.c.link_id.in_(sorted(keys))))
        await _insert_keys(db, keys)


async def _insert_keys(db: AsyncConnection, keys: Mapping[int, Iterable[str]]) -> None:
    rows = [{"link_id": i, "key": k} for i, ks in keys.items() for k in sorted(set(ks))]
    if rows:
        await db.execute(sa.insert(link_keys), rows)


async def update_link(
    db: AsyncConnection,
    link: Link,
    *,
    salesforce_secondary_id: str | None,
    extra_ids: Mapping[str, str],
) -> Link | None:
    """Replace the secondary id and extra ids of ``link``; ``None`` if the id is taken."""
    statement = (
        sa.update(links)
        .where(links.c.id == link.id, links.c.tenant == link.tenant)
        .values(
            salesforce_secondary_id=salesforce_secondary_id,
            extra_ids=dict(extra_ids),
            updated_at=db_now(db.dialect.name),
        )
        .returning(*links.c)
    )
    try:
        async with db.begin_nested():
            found = links_by_row((await db.execute(statement)).all())
    except sa.exc.IntegrityError:
        return None
    return found[0] if found else None


async def move_link(
    db: AsyncConnection, scope: Scope, *, old_salesforce_id: str, new_salesforce_id: str
) -> MoveResult:
    """Point the link holding ``old_salesforce_id`` at ``new_salesforce_id``.

    A Salesforce merge deletes the loser and names the survivor in ``MasterRecordId``: the
    loser's link moves to the master. When the master is linked already, nothing changes and
    the caller decides (two FreshBooks records now share one Salesforce record: a review).
    """
    found = await find_links(db, scope, salesforce_ids=[old_salesforce_id, new_salesforce_id])
    loser = [k for k in found if old_salesforce_id in sf_ids(k)]
    if not loser:
        return MoveResult.NOT_LINKED  # also a merge event delivered twice: moved already
    if any(new_salesforce_id in sf_ids(k) for k in found):
        return MoveResult.TARGET_LINKED
    primary = loser[0].salesforce_id == old_salesforce_id
    column = "salesforce_id" if primary else "salesforce_secondary_id"
    statement = (
        sa.update(links)
        .where(links.c.id == loser[0].id)
        .values({column: new_salesforce_id, "updated_at": db_now(db.dialect.name)})
    )
    await db.execute(statement)
    return MoveResult.MOVED


async def unlink(db: AsyncConnection, scope: Scope, link_id: int) -> bool:
    """Forget a link with its snapshot, keys and conflicts; ``False`` if it was gone."""
    statement = sa.delete(links).where(in_scope(scope), links.c.id == link_id)
    return (await db.execute(statement)).rowcount == 1
