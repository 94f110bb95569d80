"""Flow pauses: which (tenant, flow) waits, why and since when; pause, resume, read back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from freshforce.store.dbtime import db_now
from freshforce.store.schema import flow_pauses

__all__ = ["FlowPause", "get_pause", "list_pauses", "pause_flow", "resume_flow"]


@dataclass(frozen=True)
class FlowPause:
    """One flow's pause for one tenant; paused while ``resumed_at`` is ``None``."""

    tenant: str
    flow: str
    reason: str
    paused_by: str
    paused_at: datetime
    resumed_by: str | None
    resumed_at: datetime | None

    @property
    def paused(self) -> bool:
        return self.resumed_at is None


def _pause(row: sa.Row[Any]) -> FlowPause:
    return FlowPause(**row._mapping)  # noqa: SLF001 - SQLAlchemy's public row mapping


async def get_pause(db: AsyncConnection, tenant: str, flow: str) -> FlowPause | None:
    """Return the flow's pause row (paused or resumed), or ``None`` if it was never paused."""
    c = flow_pauses.c
    row = (
        await db.execute(sa.select(flow_pauses).where(c.tenant == tenant, c.flow == flow))
    ).first()
    return None if row is None else _pause(row)


async def list_pauses(db: AsyncConnection, *, paused_only: bool = True) -> list[FlowPause]:
    """Return every tenant's flow pauses (only those in force, unless told otherwise)."""
    query = sa.select(flow_pauses).order_by(flow_pauses.c.tenant, flow_pauses.c.flow)
    if paused_only:
        query = query.where(flow_pauses.c.resumed_at.is_(None))
    return [_pause(r) for r in (await db.execute(query)).all()]


async def pause_flow(db: AsyncConnection, tenant: str, flow: str, *, reason: str, by: str) -> bool:
    """Pause the flow for ``tenant``; ``False`` when it was paused already (kept as it was)."""
    c = flow_pauses.c
    now = db_now(db.dialect.name)
    changed = await db.execute(
        sa.update(flow_pauses)
        .where(c.tenant == tenant, c.flow == flow, c.resumed_at.is_not(None))
        .values(reason=reason, paused_by=by, paused_at=now, resumed_by=None, resumed_at=None)
    )
    if changed.rowcount == 1:
        return True
    if await get_pause(db, tenant, flow) is not None:
        return False
    values = {"tenant": tenant, "flow": flow, "reason": reason, "paused_by": by, "paused_at": now}
    try:
        async with db.begin_nested():
            await db.execute(sa.insert(flow_pauses).values(values))
    except sa.exc.IntegrityError:  # another process paused it first
        return False
    return True


async def resume_flow(db: AsyncConnection, tenant: str, flow: str, *, by: str) -> bool:
    """Resume a paused flow; ``False`` when it was not paused."""
    c = flow_pauses.c
    changed = await db.execute(
        sa.update(flow_pauses)
        .where(c.tenant == tenant, c.flow == flow, c.resumed_at.is_(None))
        .values(resumed_by=by, resumed_at=db_now(db.dialect.name))
    )
    return changed.rowcount == 1
