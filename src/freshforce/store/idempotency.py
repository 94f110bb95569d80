"""The idempotency ledger: every create we make, recorded before the call and completed after.

A create in a target system carries a reference we can look up there (an Account upserted on
``FreshBooks_Client_Id__c`` carries the FreshBooks client id; an invoice carries its
Opportunity id). The flow records ``pending`` in a short transaction of its own *before* the
remote call, and the commit transaction marks it ``done`` with the new record's id. A retry that
finds ``pending`` knows an earlier attempt may have created the record (an ambiguous failure):
it looks the reference up and adopts what it finds instead of creating a second one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from freshforce.store.dbtime import db_now
from freshforce.store.schema import idempotency

if TYPE_CHECKING:
    from sqlalchemy.engine import Row
    from sqlalchemy.ext.asyncio import AsyncConnection

    from freshforce.store.scope import Scope

__all__ = [
    "CreateRef",
    "LedgerEntry",
    "LedgerState",
    "begin_create",
    "complete_create",
    "ledger_entry",
]


class LedgerState(StrEnum):
    """Where a create stands."""

    PENDING = "pending"  # recorded; the create may or may not have happened
    DONE = "done"  # created: ``remote_id`` is the record


@dataclass(frozen=True)
class CreateRef:
    """A create in ``system``'s ``object`` identified by ``reference``."""

    system: str
    object: str
    reference: str


@dataclass(frozen=True)
class LedgerEntry:
    """One ledger row."""

    id: int
    tenant: str
    flow: str
    ref: CreateRef
    state: LedgerState
    remote_id: str | None
    created_at: datetime
    updated_at: datetime


def _entry(row: Row[tuple[object, ...]]) -> LedgerEntry:
    m = row._mapping  # noqa: SLF001 - SQLAlchemy's public row mapping
    return LedgerEntry(
        id=m["id"],
        tenant=m["tenant"],
        flow=m["flow"],
        ref=CreateRef(m["system"], m["object"], m["reference"]),
        state=LedgerState(m["state"]),
        remote_id=m["remote_id"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def _is(tenant: str, ref: CreateRef) -> sa.ColumnElement[bool]:
    c = idempotency.c
    return sa.and_(
        c.tenant == tenant,
        c.system == ref.system,
        c.object == ref.object,
        c.reference == ref.reference,
    )


async def begin_create(
    db: AsyncConnection, scope: Scope, ref: CreateRef
) -> tuple[LedgerEntry, bool]:
    """Record ``ref`` as pending unless known; return the entry and whether it is new.

    Not new and ``pending``: an earlier attempt may have created the record, look it up first.
    Not new and ``done``: the record exists as ``remote_id``, adopt it.
    """
    insert = postgresql.insert if db.dialect.name == "postgresql" else sqlite.insert
    now = db_now(db.dialect.name)
    statement = (
        insert(idempotency)
        .values(
            tenant=scope.tenant,
            flow=scope.flow,
            system=ref.system,
            object=ref.object,
            reference=ref.reference,
            state=LedgerState.PENDING.value,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing()
        .returning(*idempotency.c)
    )
    row = (await db.execute(statement)).first()
    if row is not None:
        return _entry(row), True
    found = (await db.execute(sa.select(idempotency).where(_is(scope.tenant, ref)))).one()
    return _entry(found), False


async def ledger_entry(db: AsyncConnection, tenant: str, ref: CreateRef) -> LedgerEntry | None:
    """Return the ledger's entry for ``ref``, or ``None`` when no create of it was begun."""
    found = (await db.execute(sa.select(idempotency).where(_is(tenant, ref)))).first()
    return None if found is None else _entry(found)


async def complete_create(
    db: AsyncConnection, tenant: str, ref: CreateRef, remote_id: str
) -> LedgerEntry | None:
    """Mark ``ref`` done as ``remote_id``; ``None`` if it was never begun.

    Completing again with the same id is harmless; a different id overwrites, since the target
    system is the truth and the caller has just seen it.
    """
    statement = (
        sa.update(idempotency)
        .where(_is(tenant, ref))
        .values(
            state=LedgerState.DONE.value,
            remote_id=remote_id,
            updated_at=db_now(db.dialect.name),
        )
        .returning(*idempotency.c)
    )
    row = (await db.execute(statement)).first()
    return None if row is None else _entry(row)
