"""Settle a held write: accepted, it is learned and its record synced again; rejected, it stays."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from freshforce.assist.guard import breaker_kind
from freshforce.store.alerts import resolve_alerts
from freshforce.store.anomalies import Anomaly, decide_anomaly, list_anomalies

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from freshforce.engine import JobQueue

__all__ = ["settle"]


async def settle(
    engine: AsyncEngine,
    queue: JobQueue,
    tenant: str,
    anomaly_id: int,
    *,
    accept: bool,
    by: str | None = None,
) -> Anomaly | None:
    """Accept or reject open anomaly ``anomaly_id``; ``None`` when there is no such open one.

    Accepting enqueues the record's job in the same transaction: the worker runs the flow again,
    the guard finds the accepted review of that same write and lets it through (and learns it).
    """
    async with engine.begin() as db:
        status = "accepted" if accept else "rejected"
        found = await decide_anomaly(db, tenant, anomaly_id, status, by=by)
        if found is not None and accept:
            await queue.enqueue(db, found.flow, found.record_key, tenant=tenant)
        if found is not None and not await _bursts_wait(db, tenant, found.flow):
            await resolve_alerts(
                db, kind=breaker_kind(found.flow), connection_id=None,
                notice_kind=f"{breaker_kind(found.flow)}_resolved",
                message=f"the {found.flow} deletes held by the breaker are reviewed",
                now=datetime.now(UTC),
            )  # fmt: skip
    return found


async def _bursts_wait(db: AsyncConnection, tenant: str, flow: str) -> bool:
    waiting = await list_anomalies(db, tenant, status="open")
    return any(a.flow == flow and a.write.get("delete") for a in waiting)
