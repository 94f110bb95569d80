"""Conflicts: one field of a link parked for review, with both sides' values, until settled.

Under the ``review`` policy a field changed differently on both sides is parked here and only
that field waits: the rest of the record syncs. A value one side refused (an e-mail
Salesforce cannot parse, a validation rule naming the field) is parked the same way, as kind
``refused`` with the refusing system's error code and message; it also closes by itself
(resolution ``fixed``) once a changed value from its source is written. There is at most one
open conflict per link and field; parking it again (the values moved on) refreshes that row.
Resolving is a compare-and-set on ``status = 'open'``, so two people settling one conflict
cannot both win. Parking runs in a job's commit, and jobs about one link never run at once
(per-key exclusivity and match locks), so two parks of one field do not race; the partial
unique index would refuse the second if they did.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from freshforce.store.dbtime import db_now
from freshforce.store.schema import conflicts

if TYPE_CHECKING:
    from sqlalchemy.engine import Row
    from sqlalchemy.ext.asyncio import AsyncConnection

    from freshforce.store.scope import Scope

__all__ = [
    "Conflict",
    "ConflictKind",
    "ConflictStatus",
    "Parked",
    "Resolution",
    "close_fixed",
    "get_conflict",
    "list_conflicts",
    "list_conflicts_of_links",
    "open_conflicts",
    "park_conflict",
    "resolve_conflict",
    "settled_conflicts",
]


class ConflictStatus(StrEnum):
    """Whether a conflict still holds its field back."""

    OPEN = "open"
    RESOLVED = "resolved"


class ConflictKind(StrEnum):
    """Why a field waits: both sides changed it, or one side refused its value."""

    CONFLICT = "conflict"
    REFUSED = "refused"


class Resolution(StrEnum):
    """How a conflict was settled: one side's value, a person's value, or fixed at the source."""

    FRESHBOOKS = "freshbooks"
    SALESFORCE = "salesforce"
    VALUE = "value"
    FIXED = "fixed"  # a refused value, changed at its source and then written


# Who closes a refused field whose source value was changed and then written.
FIXED_BY = "freshforce"


@dataclass(frozen=True)
class Parked:
    """A field to park: the last-synced value, each side's value, who changed it and when."""

    link_id: int
    field: str
    base_value: Any  # Any: JSON wire values
    freshbooks_value: Any
    salesforce_value: Any
    freshbooks_changed_by: str | None = None
    freshbooks_changed_at: datetime | None = None
    salesforce_changed_by: str | None = None
    salesforce_changed_at: datetime | None = None
    kind: ConflictKind = ConflictKind.CONFLICT
    refused_by: str | None = None  # refused: the system that refused the value
    error_code: str | None = None  # ... its error code
    error_message: str | None = None  # ... and message

    @property
    def refused_value(self) -> Any:  # noqa: ANN401 - a JSON wire value
        """The value the other side refused (the value from its source)."""
        return self.salesforce_value if self.refused_by == "freshbooks" else self.freshbooks_value


@dataclass(frozen=True)
class Conflict:
    """One stored conflict."""

    id: int
    tenant: str
    flow: str
    parked: Parked
    status: ConflictStatus
    resolution: Resolution | None
    resolved_value: Any
    resolved_by: str | None
    resolved_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def kind(self) -> ConflictKind:
        return self.parked.kind

    @property
    def refused_by(self) -> str | None:
        return self.parked.refused_by

    @property
    def error_code(self) -> str | None:
        return self.parked.error_code

    @property
    def error_message(self) -> str | None:
        return self.parked.error_message


_PARKED = (
    "base_value",
    "freshbooks_value",
    "salesforce_value",
    "freshbooks_changed_by",
    "freshbooks_changed_at",
    "salesforce_changed_by",
    "salesforce_changed_at",
    "kind",
    "refused_by",
    "error_code",
    "error_message",
)


def _conflict(row: Row[tuple[object, ...]]) -> Conflict:
    m = row._mapping  # noqa: SLF001 - SQLAlchemy's public row mapping
    values = {name: m[name] for name in _PARKED} | {"kind": ConflictKind(m["kind"])}
    parked = Parked(m["link_id"], m["field"], **values)
    return Conflict(
        id=m["id"],
        tenant=m["tenant"],
        flow=m["flow"],
        parked=parked,
        status=ConflictStatus(m["status"]),
        resolution=None if m["resolution"] is None else Resolution(m["resolution"]),
        resolved_value=m["resolved_value"],
        resolved_by=m["resolved_by"],
        resolved_at=m["resolved_at"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


async def park_conflict(db: AsyncConnection, scope: Scope, parked: Parked) -> Conflict:
    """Open a conflict for ``parked``'s field, or refresh the open one with the new values."""
    now = db_now(db.dialect.name)
    values = {name: getattr(parked, name) for name in _PARKED} | {"kind": parked.kind.value}
    c = conflicts.c
    refresh = (
        sa.update(conflicts)
        .where(c.link_id == parked.link_id, c.field == parked.field, c.status == "open")
        .values(**values, updated_at=now)
        .returning(*conflicts.c)
    )
    row = (await db.execute(refresh)).first()
    if row is None:
        insert = sa.insert(conflicts).values(
            tenant=scope.tenant,
            flow=scope.flow,
            link_id=parked.link_id,
            field=parked.field,
            status=ConflictStatus.OPEN.value,
            created_at=now,
            updated_at=now,
            **values,
        )
        row = (await db.execute(insert.returning(*conflicts.c))).one()
    return _conflict(row)


async def resolve_conflict(
    db: AsyncConnection,
    tenant: str,
    conflict_id: int,
    *,
    resolution: Resolution,
    value: Any,  # noqa: ANN401 - a JSON wire value
    resolved_by: str,
) -> Conflict | None:
    """Settle an open conflict with ``value``; ``None`` if it is unknown or settled already."""
    statement = (
        sa.update(conflicts)
        .where(
            conflicts.c.tenant == tenant,
            conflicts.c.id == conflict_id,
            conflicts.c.status == ConflictStatus.OPEN.value,
        )
        .values(
            status=ConflictStatus.RESOLVED.value,
            resolution=resolution.value,
            resolved_value=value,
            resolved_by=resolved_by,
            resolved_at=db_now(db.dialect.name),
            updated_at=db_now(db.dialect.name),
        )
        .returning(*conflicts.c)
    )
    row = (await db.execute(statement)).first()
    return None if row is None else _conflict(row)


async def close_fixed(
    db: AsyncConnection,
    scope: Scope,
    link_id: int,
    fixed: dict[str, Any],  # field → the value written; Any: JSON wire values
) -> list[Conflict]:
    """Close the link's open refused fields whose changed source value was written."""
    closed: list[Conflict] = []
    c = conflicts.c
    for name, value in sorted(fixed.items()):
        statement = (
            sa.update(conflicts)
            .where(
                c.tenant == scope.tenant,
                c.link_id == link_id,
                c.field == name,
                c.kind == ConflictKind.REFUSED.value,
                c.status == ConflictStatus.OPEN.value,
            )
            .values(
                status=ConflictStatus.RESOLVED.value,
                resolution=Resolution.FIXED.value,
                resolved_value=value,
                resolved_by=FIXED_BY,
                resolved_at=db_now(db.dialect.name),
                updated_at=db_now(db.dialect.name),
            )
            .returning(*conflicts.c)
        )
        closed.extend(_conflict(r) for r in (await db.execute(statement)).all())
    return closed


async def get_conflict(db: AsyncConnection, tenant: str, conflict_id: int) -> Conflict | None:
    """Return conflict ``conflict_id`` of ``tenant``, or ``None``."""
    query = sa.select(conflicts).where(conflicts.c.tenant == tenant, conflicts.c.id == conflict_id)
    row = (await db.execute(query)).first()
    return None if row is None else _conflict(row)


async def list_conflicts(
    db: AsyncConnection, tenant: str, *, status: ConflictStatus | None = ConflictStatus.OPEN
) -> list[Conflict]:
    """Return ``tenant``'s conflicts (open ones by default), oldest first."""
    query = sa.select(conflicts).where(conflicts.c.tenant == tenant)
    if status is not None:
        query = query.where(conflicts.c.status == status.value)
    return [_conflict(r) for r in (await db.execute(query.order_by(conflicts.c.id))).all()]


async def open_conflicts(
    db: AsyncConnection, scope: Scope, link_ids: Iterable[int]
) -> dict[int, dict[str, Conflict]]:
    """Return, per link of a batch, its open conflicts by field: the fields that must wait."""
    wanted = sorted(set(link_ids))
    if not wanted:
        return {}
    query = sa.select(conflicts).where(
        conflicts.c.tenant == scope.tenant,
        conflicts.c.flow == scope.flow,
        conflicts.c.link_id.in_(wanted),
        conflicts.c.status == ConflictStatus.OPEN.value,
    )
    found: dict[int, dict[str, Conflict]] = {}
    for row in (await db.execute(query)).all():
        conflict = _conflict(row)
        found.setdefault(conflict.parked.link_id, {})[conflict.parked.field] = conflict
    return found


async def list_conflicts_of_links(
    db: AsyncConnection, tenant: str, link_ids: Iterable[int]
) -> list[Conflict]:
    """Return every conflict (open or settled) of the links, oldest first."""
    wanted = sorted(set(link_ids))
    if not wanted:
        return []
    query = (
        sa.select(conflicts)
        .where(conflicts.c.tenant == tenant, conflicts.c.link_id.in_(wanted))
        .order_by(conflicts.c.created_at, conflicts.c.id)
    )
    return [_conflict(r) for r in (await db.execute(query)).all()]


async def settled_conflicts(
    db: AsyncConnection, scope: Scope, link_ids: Iterable[int]
) -> dict[int, list[Conflict]]:
    """Return, per link of a batch, its settled conflicts in the order they were settled."""
    wanted = sorted(set(link_ids))
    if not wanted:
        return {}
    c = conflicts.c
    query = (
        sa.select(conflicts)
        .where(
            c.tenant == scope.tenant,
            c.flow == scope.flow,
            c.link_id.in_(wanted),
            c.status == ConflictStatus.RESOLVED.value,
            # Fixed at the source: the value synced as any edit does, nothing to apply again.
            c.resolution != Resolution.FIXED.value,
        )
        .order_by(c.resolved_at, c.id)
    )
    found: dict[int, list[Conflict]] = {}
    for row in (await db.execute(query)).all():
        conflict = _conflict(row)
        found.setdefault(conflict.parked.link_id, []).append(conflict)
    return found
