"""Links: one business record known in both systems, found by either side's id or a match key.

A link joins a FreshBooks record (``freshbooks_id``) to a Salesforce record (``salesforce_id``)
and, for flows with two Salesforce objects, a second one (``salesforce_secondary_id``: the
clients flow's primary Contact). Every function is scoped to one tenant's flow and takes the
caller's connection, so writes can run as effects inside the engine's commit transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from freshforce.store.dbtime import db_now
from freshforce.store.schema import link_keys, links

if TYPE_CHECKING:
    from sqlalchemy.engine import Row
    from sqlalchemy.ext.asyncio import AsyncConnection

    from freshforce.store.scope import Scope

__all__ = [
    "Link",
    "MoveResult",
    "NewLink",
    "create_link",
    "find_links",
    "find_links_by_key",
    "get_link",
    "ids_of",
    "links_by_row",
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


@dataclass(frozen=True)
class Link:
    """One stored link."""

    id: int
    tenant: str
    flow: str
    freshbooks_id: str | None
    salesforce_id: str | None
    salesforce_secondary_id: str | None
    extra_ids: Mapping[str, str]
    created_at: datetime
    updated_at: datetime


class MoveResult(StrEnum):
    """What moving a link to a new Salesforce id did."""

    MOVED = "moved"
    NOT_LINKED = "not_linked"  # no link holds the old id: nothing to move
    TARGET_LINKED = "target_linked"  # another link already holds the new id: nothing changed


def _link(row: Row[tuple[object, ...]]) -> Link:
    m = row._mapping  # noqa: SLF001 - SQLAlchemy's public row mapping
    values = {f.name: m[f.name] for f in fields(Link)}
    return Link(**values | {"extra_ids": dict(m["extra_ids"] or {})})


def links_by_row(rows: Sequence[Row[tuple[object, ...]]]) -> list[Link]:
    """Return a ``Link`` for each row of a query on ``links`` (for the trace query)."""
    return [_link(row) for row in rows]


def _in_scope(scope: Scope) -> sa.ColumnElement[bool]:
    return sa.and_(links.c.tenant == scope.tenant, links.c.flow == scope.flow)


async def get_link(db: AsyncConnection, scope: Scope, link_id: int) -> Link | None:
    """Return the link ``link_id`` of ``scope``, or ``None``."""
    query = sa.select(links).where(_in_scope(scope), links.c.id == link_id)
    row = (await db.execute(query)).first()
    return None if row is None else _link(row)


async def find_links(
    db: AsyncConnection,
    scope: Scope,
    *,
    freshbooks_ids: Iterable[str] = (),
    salesforce_ids: Iterable[str] = (),
) -> list[Link]:
    """Return the links holding any of the ids, in one query for a whole batch.

    A Salesforce id matches either Salesforce column: ids are unique across objects.
    """
    fb, sf = sorted(set(freshbooks_ids)), sorted(set(salesforce_ids))
    if not fb and not sf:
        return []
    match = sa.or_(
        links.c.freshbooks_id.in_(fb),
        links.c.salesforce_id.in_(sf),
        links.c.salesforce_secondary_id.in_(sf),
    )
    query = sa.select(links).where(_in_scope(scope), match).order_by(links.c.id)
    return [_link(r) for r in (await db.execute(query)).all()]


async def find_links_by_key(
    db: AsyncConnection, scope: Scope, keys: Iterable[str]
) -> dict[str, list[Link]]:
    """Return, for each match key that some link has, the links that have it."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    query = (
        sa.select(link_keys.c.key, links)
        .join(links, links.c.id == link_keys.c.link_id)
        .where(_in_scope(scope), link_keys.c.key.in_(wanted))
        .order_by(link_keys.c.key, links.c.id)
    )
    found: dict[str, list[Link]] = {}
    for row in (await db.execute(query)).all():
        found.setdefault(row.key, []).append(_link(row))
    return found


async def create_link(db: AsyncConnection, scope: Scope, new: NewLink) -> Link | None:
    """Insert a link with its match keys; ``None`` when one of its ids is linked already.

    ``None`` is the re-check a racing job needs: the caller re-reads with :func:`find_links`.
    """
    insert = postgresql.insert if db.dialect.name == "postgresql" else sqlite.insert
    now = db_now(db.dialect.name)
    statement = (
        insert(links)
        .values(
            tenant=scope.tenant,
            flow=scope.flow,
            freshbooks_id=new.freshbooks_id,
            salesforce_id=new.salesforce_id,
            salesforce_secondary_id=new.salesforce_secondary_id,
            extra_ids=dict(new.extra_ids),
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing()
        .returning(*links.c)
    )
    row = (await db.execute(statement)).first()
    if row is None:
        return None
    link = _link(row)
    await set_link_keys(db, link.id, new.keys)
    return link


async def set_link_keys(db: AsyncConnection, link_id: int, keys: Iterable[str]) -> None:
    """Replace the match keys of link ``link_id``."""
    await db.execute(sa.delete(link_keys).where(link_keys.c.link_id == link_id))
    rows = [{"link_id": link_id, "key": key} for key in sorted(set(keys))]
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
            row = (await db.execute(statement)).first()
    except sa.exc.IntegrityError:
        return None
    return None if row is None else _link(row)


async def move_link(
    db: AsyncConnection, scope: Scope, *, old_salesforce_id: str, new_salesforce_id: str
) -> MoveResult:
    """Point the link holding ``old_salesforce_id`` at ``new_salesforce_id``.

    A Salesforce merge deletes the loser and names the survivor in ``MasterRecordId``: the
    loser's link moves to the master. When the master is linked already, nothing changes and
    the caller decides (two FreshBooks records now share one Salesforce record: a review).
    """
    found = await find_links(db, scope, salesforce_ids=[old_salesforce_id, new_salesforce_id])
    target = [k for k in found if new_salesforce_id in _sf_ids(k)]
    loser = [k for k in found if old_salesforce_id in _sf_ids(k)]
    if not loser:
        return MoveResult.NOT_LINKED  # also a merge event delivered twice: moved already
    if target:
        return MoveResult.TARGET_LINKED
    column = "salesforce_id" if loser[0].salesforce_id == old_salesforce_id else None
    values = {column or "salesforce_secondary_id": new_salesforce_id}
    statement = (
        sa.update(links)
        .where(links.c.id == loser[0].id)
        .values(**values, updated_at=db_now(db.dialect.name))
    )
    await db.execute(statement)
    return MoveResult.MOVED


def _sf_ids(link: Link) -> set[str | None]:
    return {link.salesforce_id, link.salesforce_secondary_id}


async def unlink(db: AsyncConnection, scope: Scope, link_id: int) -> bool:
    """Forget a link with its snapshot, keys and open conflicts; ``False`` if it was gone."""
    statement = sa.delete(links).where(_in_scope(scope), links.c.id == link_id)
    return (await db.execute(statement)).rowcount == 1


def ids_of(found: Sequence[Link]) -> tuple[set[str], set[str]]:
    """Return the FreshBooks ids and the Salesforce ids (both columns) of ``found``."""
    fb = {k.freshbooks_id for k in found if k.freshbooks_id}
    sf = {i for k in found for i in _sf_ids(k) if i}
    return fb, sf
