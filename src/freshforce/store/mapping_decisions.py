"""Accept/reject decisions on mapping suggestions, per tenant and flow."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from freshforce.store.dbtime import db_now
from freshforce.store.schema import mapping_decisions
from freshforce.store.scope import Scope

__all__ = ["Decision", "MappingDecision", "decide", "list_decisions"]


class Decision(StrEnum):
    """What a person said about a suggested pair."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"


@dataclass(frozen=True)
class MappingDecision:
    """One stored decision."""

    flow: str
    source: str
    target: str
    decision: Decision
    decided_by: str | None
    decided_at: datetime


async def decide(
    db: AsyncConnection,
    scope: Scope,
    source: str,
    target: str,
    decision: Decision,
    *,
    by: str | None = None,
) -> None:
    """Store (or change) the decision on ``source`` -> ``target``."""
    where = sa.and_(
        mapping_decisions.c.tenant == scope.tenant,
        mapping_decisions.c.flow == scope.flow,
        mapping_decisions.c.source == source,
        mapping_decisions.c.target == target,
    )
    values = {"decision": decision.value, "decided_by": by, "decided_at": db_now(db.dialect.name)}
    changed = await db.execute(sa.update(mapping_decisions).where(where).values(**values))
    if changed.rowcount == 0:
        row = {"tenant": scope.tenant, "flow": scope.flow, "source": source, "target": target}
        await db.execute(sa.insert(mapping_decisions).values(**row, **values))


async def list_decisions(db: AsyncConnection, tenant: str) -> list[MappingDecision]:
    """Return every decision of ``tenant`` (all flows: accepted words help every flow)."""
    query = (
        sa.select(mapping_decisions)
        .where(mapping_decisions.c.tenant == tenant)
        .order_by(mapping_decisions.c.id)
    )
    return [
        MappingDecision(
            r.flow, r.source, r.target, Decision(r.decision), r.decided_by, r.decided_at
        )
        for r in (await db.execute(query)).all()
    ]
