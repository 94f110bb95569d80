"""The guard that learns: judges planned writes on stored baselines and keeps what it held.

A write that proceeds (or is flagged) becomes an observation of its group, so baselines follow
the tenant's own traffic. A held write is stored for review and not written; once accepted
(``freshforce anomalies accept``), the same write proceeds and is learned; once rejected it stays
held, and is never learned, until the record changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog

from freshforce.assist.baseline import Thresholds, judge
from freshforce.engine.guard import Guarded, PlannedWrite, Verdict
from freshforce.store.alerts import raise_alert
from freshforce.store.anomalies import (
    count_links,
    count_recent,
    latest_anomaly,
    observe,
    observed,
    record_anomaly,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["BaselineGuard", "as_json", "breaker_kind"]

log = structlog.get_logger("freshforce.assist.guard")
_DELETE = "delete"  # the observation a delete leaves, counted by the burst breaker


def breaker_kind(flow: str) -> str:
    """Return the alert kind a flow's delete breaker raises (resolved once nothing waits)."""
    return f"{flow}_delete_breaker"


def as_json(write: PlannedWrite) -> dict[str, Any]:
    """Return the stored form of a planned write (what a review compares and shows)."""
    stored: dict[str, Any] = {
        "amounts": {k: str(v) for k, v in sorted(write.amounts.items())},
        "labels": dict(sorted(write.labels.items())),
        "delete": write.delete,
    }
    if write.details:
        stored["details"] = dict(sorted(write.details.items()))
    return stored


@dataclass(frozen=True)
class BaselineGuard:
    """A :class:`~freshforce.engine.guard.WriteGuard` on the store's observations."""

    engine: AsyncEngine
    thresholds: Thresholds = field(default_factory=Thresholds)

    async def check(self, write: PlannedWrite) -> Verdict:
        key = (write.tenant, write.flow, write.group, write.record_key)
        async with self.engine.begin() as db:
            reviewed = await latest_anomaly(db, write.tenant, write.flow, write.record_key)
            if reviewed is not None and reviewed.write == as_json(write):
                verdict = await self._reviewed(db, write, reviewed.status, reviewed.reasons)
            elif write.delete:
                verdict = await self._burst(db, write)
                await self._keep(db, key, write, verdict)
            else:
                seen = await observed(db, write.tenant, write.flow)
                verdict = judge(write, seen, self.thresholds)
                await self._keep(db, key, write, verdict)
        if verdict.action is not Guarded.PROCEED:
            event = "write_held" if verdict.held else "write_flagged"
            log.info(event, flow=write.flow, record_key=write.record_key, reasons=verdict.reasons)
        return verdict

    async def _burst(self, db: AsyncConnection, write: PlannedWrite) -> Verdict:
        """Hold a delete once the flow made its limit of them in the window (a breaker)."""
        t = self.thresholds
        window = t.burst_minutes * 60
        made = await count_recent(db, write.tenant, write.flow, _DELETE, window)
        size = await count_links(db, write.tenant, write.flow)
        limit = max(t.burst_deletes, int(t.burst_share * size))
        if made < limit or not t.on("delete_burst"):
            return Verdict(Guarded.PROCEED)
        why = (
            f"a burst of deletes: {made} in the last {t.burst_minutes:g} minutes on {write.flow} "
            f"(limit {limit}); the flow's deletes are paused until reviewed"
        )
        tenant = "" if write.tenant == "default" else f"tenant {write.tenant}: "
        await raise_alert(
            db, kind=breaker_kind(write.flow), message=f"{tenant}{why}", now=datetime.now(UTC)
        )  # once per incident: the store keeps one open alert per kind
        return Verdict(Guarded.HOLD, (why,))

    async def _reviewed(
        self, db: AsyncConnection, write: PlannedWrite, status: str, reasons: tuple[str, ...]
    ) -> Verdict:
        if status == "accepted":
            await _learn(db, write)
            return Verdict(Guarded.PROCEED)
        why = "rejected on review" if status == "rejected" else "waiting for review"
        return Verdict(Guarded.HOLD, (*reasons, why))

    async def _keep(
        self, db: AsyncConnection, key: tuple[str, str, str, str], w: PlannedWrite, v: Verdict
    ) -> None:
        if v.action is Guarded.PROCEED:
            await _learn(db, w)
            return
        status = "open" if v.held else "flagged"
        await record_anomaly(
            db, key, action=v.action.value, status=status, reasons=v.reasons, write=as_json(w)
        )
        if not v.held:
            await _learn(db, w)


async def _learn(db: AsyncConnection, write: PlannedWrite) -> None:
    numbers = {k: float(v) for k, v in write.amounts.items()}
    if write.delete:
        numbers[_DELETE] = 1.0
    key = (write.tenant, write.flow, write.group, write.record_key)
    await observe(db, key, numbers, dict(write.labels))
