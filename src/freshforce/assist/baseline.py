"""Judge a planned write against learned baselines: robust z-scores, ratios, decimal shifts, labels.

Amounts are compared with the group's earlier amounts (a client's invoices) by median and MAD
of their logarithms (amounts vary by ratios), with floors: a factor of 1.1, and how much
clients' invoices vary around their own medians, pooled over the flow; so a client who always
pays 100.00 does not make 101.00 an outlier. A group with fewer than ``min_group`` amounts is
compared with the whole flow instead (floor: a factor of 1.5). Every finding is one plain
sentence. Hold: not positive, z above ``hold_z``, more than ``max_ratio`` times the group's
largest, a x100/x1000 decimal shift, a label (currency) the group never had. Flag: z above
``flag_z``, a label value never seen in the flow for a picklist-like label.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from freshforce.engine.guard import Guarded, PlannedWrite, Verdict
from freshforce.store.anomalies import Observed

__all__ = ["Thresholds", "judge"]

_MAD_SCALE = 1.4826  # MAD x this estimates the standard deviation of normal data
_SHIFTS = (100, 1000)
_LOG_FLOOR = math.log(1.5)  # flow-wide, amounts within 1.5x of each other are one spread
_PICKLIST_MAX = 10  # a label with at most this many values, seen often, is picklist-like
_PICKLIST_SEEN = 20


@dataclass(frozen=True)
class Thresholds:
    """Where a finding holds or flags a write."""

    hold_z: float = 6.0
    flag_z: float = 3.5
    max_ratio: float = 10.0
    min_group: int = 3
    min_flow: int = 5
    scale_floor: float = 0.1  # the spread never counts as less than 10 % of the median
    burst_deletes: int = 20  # deletes a flow may make in the window ...
    burst_share: float = 0.02  # ... or this share of its linked records, whichever is more
    burst_minutes: float = 15.0


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _mad(values: Sequence[float]) -> float:
    median = statistics.median(values)
    return statistics.median(abs(v - median) for v in values)


def _pooled_spread(name: str, seen: Sequence[Observed], t: Thresholds) -> float | None:
    """Return the MAD of log(amount / its client's median) over clients with enough amounts."""
    groups: dict[str, list[float]] = {}
    for o in seen:
        if o.name == name and o.number is not None and o.number > 0:
            groups.setdefault(o.grp, []).append(o.number)
    ratios = [
        math.log(v / statistics.median(vs))
        for vs in groups.values()
        if len(vs) >= t.min_group
        for v in vs
    ]
    return _mad(ratios) if len(ratios) >= t.min_flow else None


def _baseline(
    name: str, group: str, seen: Sequence[Observed], t: Thresholds
) -> tuple[list[float], str] | None:
    mine = [o.number for o in seen if o.name == name and o.grp == group and o.number is not None]
    if len(mine) >= t.min_group:
        return mine, "this client's"
    everyone = [o.number for o in seen if o.name == name and o.number is not None]
    if len(everyone) >= t.min_flow:
        return everyone, "the flow's"
    return None


def _amount(  # noqa: PLR0911 - one return per finding reads best
    name: str, value: Decimal, write: PlannedWrite, seen: Sequence[Observed], t: Thresholds
) -> list[tuple[Guarded, str]]:
    x = float(value)
    unit = f" {write.labels['currency']}" if "currency" in write.labels else ""
    if x <= 0:
        return [(Guarded.HOLD, f"{name} {_money(x)}{unit} is not positive")]
    found = _baseline(name, write.group, seen, t)
    if found is None:
        return []
    values, whose = found
    median = statistics.median(values)
    # Amounts vary by ratios, so the spread is measured on logarithms: z 1 is one typical factor.
    logs = [math.log(v) for v in values if v > 0]
    floor = math.log(1 + t.scale_floor) if whose == "this client's" else _LOG_FLOOR
    scale = max(_MAD_SCALE * _mad(logs), floor)
    pooled = _pooled_spread(name, seen, t) if whose == "this client's" else None
    if pooled is not None:  # a client's few invoices never look tighter than clients do
        scale = max(scale, _MAD_SCALE * pooled)
    z = (math.log(x) - statistics.median(logs)) / scale
    ratio = x / median if median else float("inf")
    for shift in _SHIFTS:
        if ratio >= shift / 2 and any(abs(x / shift - v) <= 0.01 * v for v in values):
            moved = f"looks like {_money(x / shift)} with the decimal point moved (x{shift})"
            return [(Guarded.HOLD, f"{name} {_money(x)}{unit} {moved}")]
    told = (
        f"{name} {_money(x)}{unit} is {ratio:.1f}x {whose} median of {_money(median)} (z {z:.1f})"
    )
    if z > t.hold_z:
        return [(Guarded.HOLD, told)]
    if whose == "this client's" and x > t.max_ratio * max(values):
        return [(Guarded.HOLD, f"{told}, over {t.max_ratio:g}x its largest")]
    if z > t.flag_z:
        return [(Guarded.FLAG, told)]
    return []


def _label(
    name: str, value: str, write: PlannedWrite, seen: Sequence[Observed]
) -> list[tuple[Guarded, str]]:
    mine = {o.text for o in seen if o.name == name and o.grp == write.group and o.text}
    if mine and value not in mine:
        had = ", ".join(sorted(mine))
        return [(Guarded.HOLD, f"{name} {value} differs from this client's {had}")]
    everyone = [o.text for o in seen if o.name == name and o.text]
    distinct = set(everyone)
    if len(everyone) >= _PICKLIST_SEEN and len(distinct) <= _PICKLIST_MAX and value not in distinct:
        return [(Guarded.FLAG, f"{name} {value!r} was never seen before in this flow")]
    return []


def judge(
    write: PlannedWrite,
    seen: Sequence[Observed],
    thresholds: Thresholds = Thresholds(),
) -> Verdict:
    """Return the verdict on ``write`` given the flow's observations ``seen``."""
    findings: list[tuple[Guarded, str]] = []
    for name, value in write.amounts.items():
        findings += _amount(name, value, write, seen, thresholds)
    for name, text in write.labels.items():
        findings += _label(name, text, write, seen)
    if not findings:
        return Verdict(Guarded.PROCEED)
    held = [text for action, text in findings if action is Guarded.HOLD]
    if held:
        return Verdict(Guarded.HOLD, tuple(held))
    return Verdict(Guarded.FLAG, tuple(text for _, text in findings))
