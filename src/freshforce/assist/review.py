"""Settle a held write: accepted, it is learned and its record synced again; rejected, it stays."""

from __future__ import annotations

from typing import TYPE_CHECKING

from freshforce.store.anomalies import Anomaly, decide_anomaly

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

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
    return found
