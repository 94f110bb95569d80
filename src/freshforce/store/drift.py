"""The result of each reconcile run, kept as an audit row so the dashboard can show the drift.

A run is recorded as action ``reconcile.run`` by actor ``freshforce`` on target
``<flow>:<tenant>``, with the counts per kind of drift, a few samples of each and how many
repair jobs it enqueued; the newest row per target is the drift the overview shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from freshforce.store.audit import list_audit, record_audit

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["RECONCILE_ACTION", "last_reconciles", "record_reconcile"]

RECONCILE_ACTION = "reconcile.run"
_ACTOR = "freshforce"
_LOOK_BACK = 200  # rows read to find the newest run of each flow and tenant


async def record_reconcile(
    db: AsyncConnection,
    *,
    tenant: str,
    flow: str,
    counts: Mapping[str, int],
    samples: Mapping[str, Sequence[str]],
    repairs: int,
    now: datetime,
) -> None:
    """Record one reconcile run's result in the caller's transaction."""
    await record_audit(
        db,
        actor=_ACTOR,
        action=RECONCILE_ACTION,
        target=f"{flow}:{tenant}",
        now=now,
        detail={
            "tenant": tenant,
            "flow": flow,
            "total": sum(counts.values()),
            "counts": dict(counts),
            "samples": {k: list(v) for k, v in samples.items()},
            "repairs": repairs,
        },
    )


async def last_reconciles(db: AsyncConnection) -> list[dict[str, Any]]:  # Any: the JSON detail
    """Return the newest run per flow and tenant: its detail plus ``at``, newest first."""
    newest: dict[str | None, dict[str, Any]] = {}
    for entry in await list_audit(db, action=RECONCILE_ACTION, limit=_LOOK_BACK):
        newest.setdefault(entry.target, {**entry.detail, "at": entry.at})
    return list(newest.values())
