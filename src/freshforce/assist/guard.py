"""The guard that learns: judges planned writes on stored baselines and keeps what it held.

A write that proceeds (or is flagged) becomes an observation of its group, so baselines follow
the tenant's own traffic. A held write is stored for review and not written; once accepted
(``freshforce anomalies accept``), the same write proceeds and is learned; once rejected it stays
held, and is never learned, until the record changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from freshforce.assist.baseline import Thresholds, judge
from freshforce.engine.guard import Guarded, PlannedWrite, Verdict
from freshforce.store.anomalies import latest_anomaly, observe, observed, record_anomaly

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["BaselineGuard", "as_json"]

log = structlog.get_logger("freshforce.assist.guard")


def as_json(write: PlannedWrite) -> dict[str, Any]:
    """Return the stored form of a planned write (what a review compares and shows)."""
    return {
        "amounts": {k: str(v) for k, v in sorted(write.amounts.items())},
        "labels": dict(sorted(write.labels.items())),
    }


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
            else:
                verdict = judge(
                    write, await observed(db, write.tenant, write.flow), self.thresholds
                )
                await self._keep(db, key, write, verdict)
        if verdict.action is not Guarded.PROCEED:
            event = "write_held" if verdict.held else "write_flagged"
            log.info(event, flow=write.flow, record_key=write.record_key, reasons=verdict.reasons)
        return verdict

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
    key = (write.tenant, write.flow, write.group, write.record_key)
    await observe(db, key, numbers, dict(write.labels))
