"""Links: one business record known in both systems, found by either side's id or a match key.

This module reads links; ``store/linking.py`` makes and changes them.

A link joins a FreshBooks record (``freshbooks_id``) to a Salesforce record (``salesforce_id``)
and, for flows with two Salesforce objects, a second one (``salesforce_secondary_id``: the
clients flow's primary Contact). Every function is scoped to one tenant's flow and takes the
caller's connection, so writes can run as effects inside the engine's commit transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from freshforce.store.schema import link_keys, links

if TYPE_CHECKING:
    from sqlalchemy.engine import Row
    from sqlalchemy.ext.asyncio import AsyncConnection

    from freshforce.store.scope import Scope

__all__ = [
    "Link",
    "all_links",
    "find_links",
    "find_links_by_key",
    "get_link",
    "ids_of",
    "in_scope",
    "links_by_row",
    "sf_ids",
]


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


def _link(row: Row[tuple[object, ...]]) -> Link:
    m = row._mapping  # noqa: SLF001 - SQLAlchemy's public row mapping
    values = {f.name: m[f.name] for f in fields(Link)}
    return Link(**values | {"extra_ids": dict(m["extra_ids"] or {})})


def links_by_row(rows: Sequence[Row[tuple[object, ...]]]) -> list[Link]:
    """Return a ``Link`` for each row of a query on ``links`` (for the trace query)."""
    return [_link(row) for row in rows]


def in_scope(scope: Scope) -> sa.ColumnElement[bool]:
    return sa.and_(links.c.tenant == scope.tenant, links.c.flow == scope.flow)


async def get_link(db: AsyncConnection, scope: Scope, link_id: int) -> Link | None:
    """Return the link ``link_id`` of ``scope``, or ``None``."""
    query = sa.select(links).where(in_scope(scope), links.c.id == link_id)
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
    query = sa.select(links).where(in_scope(scope), match).order_by(links.c.id)
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
        .where(in_scope(scope), link_keys.c.key.in_(wanted))
        .order_by(link_keys.c.key, links.c.id)
    )
    found: dict[str, list[Link]] = {}
    for row in (await db.execute(query)).all():
        found.setdefault(row.key, []).append(_link(row))
    return found


def ids_of(found: Sequence[Link]) -> tuple[set[str], set[str]]:
    """Return the FreshBooks ids and the Salesforce ids (both columns) of ``found``."""
    fb = {k.freshbooks_id for k in found if k.freshbooks_id}
    sf = {i for k in found for i in sf_ids(k) if i}
    return fb, sf


def sf_ids(link: Link) -> set[str | None]:
    """Return both Salesforce ids of ``link`` (either may be ``None``)."""
    return {link.salesforce_id, link.salesforce_secondary_id}


async def all_links(db: AsyncConnection, scope: Scope) -> list[Link]:
    """Return every link of ``scope`` in id order (reconcile reads them all)."""
    query = sa.select(links).where(in_scope(scope)).order_by(links.c.id)
    return [_link(r) for r in (await db.execute(query)).all()]
