"""The Salesforce API budget's recent samples and its forecast to the 24 h mark.

The governor knows the figures of the last answer only; the overview keeps a few samples per
org (one each time it is read) and projects from the pace since the oldest of the last hour.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

__all__ = ["BudgetHistory", "forecast"]

_DAY = timedelta(hours=24)
_WINDOW = timedelta(hours=1)
_SAMPLES = 240


@dataclass
class BudgetHistory:
    """Recent (time, calls used) samples per org, taken when the overview is read."""

    samples: dict[str, deque[tuple[datetime, int]]] = field(default_factory=dict)

    def add(self, org_id: str, at: datetime, used: int) -> None:
        kept = self.samples.setdefault(org_id, deque(maxlen=_SAMPLES))
        if not kept or kept[-1][0] < at:
            kept.append((at, used))

    def oldest_within(self, org_id: str, now: datetime) -> tuple[datetime, int] | None:
        return next((s for s in self.samples.get(org_id, ()) if now - s[0] <= _WINDOW), None)


def forecast(
    used: int, max_calls: int, at: datetime, since: tuple[datetime, int] | None
) -> dict[str, Any]:
    """Project the budget to the 24 h mark from the pace since ``since`` (or say it cannot)."""
    if since is None or at <= since[0]:
        return {"per_hour": None, "projected_24h": None, "runs_out_in_hours": None, "fits": None}
    hours = (at - since[0]).total_seconds() / 3600
    per_hour = max(used - since[1], 0) / hours
    projected = round(per_hour * _DAY.total_seconds() / 3600)
    remaining = max(max_calls - used, 0)
    runs_out = None if per_hour == 0 else remaining / per_hour
    fits = runs_out is None or runs_out >= _DAY.total_seconds() / 3600
    return {
        "per_hour": round(per_hour, 1),
        "projected_24h": projected,
        "runs_out_in_hours": None if runs_out is None else round(runs_out, 1),
        "fits": fits,
    }
