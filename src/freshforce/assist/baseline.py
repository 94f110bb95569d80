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

from freshforce.engine.guard import Finding, Guarded, PlannedWrite, Verdict
from freshforce.mapping.anomalies_schema import AnomaliesModel
from freshforce.store.anomalies import Observed

__all__ = ["RULES", "Thresholds", "judge", "thresholds_of", "verdict"]

_MAD_SCALE = 1.4826  # MAD x this estimates the standard deviation of normal data
_SHIFTS = (100, 1000)
_LOG_FLOOR = math.log(1.5)  # flow-wide, amounts within 1.5x of each other are one spread
_PICKLIST_MAX = 10  # a label with at most this many values, seen often, is picklist-like
_PICKLIST_SEEN = 20

RULES = {
    "not_positive": "hold: an amount of zero or less",
    "decimal_shift": "hold: an earlier amount x100 or x1000",
    "z_hold": "hold: robust z above z_hold",
    "max_ratio": "hold: over max_ratio times the client's largest",
    "currency_change": "hold: a currency the client never had",
    "z_flag": "flag: robust z above z_flag",
    "unseen_value": "flag: a value never seen for a picklist-like label (a payment method)",
    "delete_burst": "hold: a burst of deletes on the flow",
    "payment_over_outstanding": "hold: a payment above the invoice's outstanding amount",
    "payment_currency": "hold: a payment in another currency than its invoice's",
    "payment_on_draft": "hold: a payment on a draft invoice",
    "payment_on_deleted": "hold: a payment on a deleted invoice",
    "invoice_total": "hold: the Opportunity's Amount differs from its invoice lines' total",
    "second_invoice": "hold: the Opportunity has an invoice already",
    "same_day_duplicate": "hold: the client has an invoice of the same amount that day",
    "update_burst": "pause: a burst of writes on the flow (the update breaker)",
}
"""Every rule by name, with what it does (names an ``anomalies:`` section may disable)."""


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
    group_labels: frozenset[str] = frozenset({"currency"})  # a client's own values hold
    disabled: frozenset[str] = frozenset()  # rule names (RULES) that never fire

    def on(self, rule: str) -> bool:
        """Whether ``rule`` is enabled."""
        return rule not in self.disabled


def thresholds_of(section: AnomaliesModel | None) -> Thresholds:
    """Return the thresholds a flow map's ``anomalies:`` section sets (defaults elsewhere)."""
    if section is None:
        return Thresholds()
    d = section.delete_burst
    return Thresholds(
        hold_z=section.z_hold,
        flag_z=section.z_flag,
        max_ratio=section.max_ratio,
        burst_deletes=d.min,
        burst_share=d.percent / 100,
        burst_minutes=d.window_minutes,
        disabled=frozenset(section.disable),
    )


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
) -> list[Finding]:
    x = float(value)
    unit = f" {write.labels['currency']}" if "currency" in write.labels else ""
    if x <= 0:
        return [Finding("not_positive", Guarded.HOLD, f"{name} {_money(x)}{unit} is not positive")]
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
            return [Finding("decimal_shift", Guarded.HOLD, f"{name} {_money(x)}{unit} {moved}")]
    told = (
        f"{name} {_money(x)}{unit} is {ratio:.1f}x {whose} median of {_money(median)} (z {z:.1f})"
    )
    if z > t.hold_z:
        return [Finding("z_hold", Guarded.HOLD, told)]
    if whose == "this client's" and x > t.max_ratio * max(values):
        return [Finding("max_ratio", Guarded.HOLD, f"{told}, over {t.max_ratio:g}x its largest")]
    if z > t.flag_z:
        return [Finding("z_flag", Guarded.FLAG, told)]
    return []


def _label(
    name: str, value: str, write: PlannedWrite, seen: Sequence[Observed], t: Thresholds
) -> list[Finding]:
    mine = {o.text for o in seen if o.name == name and o.grp == write.group and o.text}
    if name in t.group_labels and mine and value not in mine:
        had = ", ".join(sorted(mine))
        why = f"{name} {value} differs from this client's {had}"
        return [Finding("currency_change", Guarded.HOLD, why)]
    everyone = [o.text for o in seen if o.name == name and o.text]
    distinct = set(everyone)
    if len(everyone) >= _PICKLIST_SEEN and len(distinct) <= _PICKLIST_MAX and value not in distinct:
        why = f"{name} {value!r} was never seen before in this flow"
        return [Finding("unseen_value", Guarded.FLAG, why)]
    return []


def judge(
    write: PlannedWrite,
    seen: Sequence[Observed],
    thresholds: Thresholds = Thresholds(),
) -> Verdict:
    """Return the verdict on ``write`` given the flow's observations ``seen``."""
    findings: list[Finding] = list(write.findings)
    for name, value in write.amounts.items():
        findings += _amount(name, value, write, seen, thresholds)
    for name, text in write.labels.items():
        findings += _label(name, text, write, seen, thresholds)
    return verdict(findings, thresholds)


def verdict(findings: Sequence[Finding], thresholds: Thresholds = Thresholds()) -> Verdict:
    """Return the verdict of ``findings``: hold if an enabled one holds, else flag, else proceed."""
    kept = [f for f in findings if thresholds.on(f.rule)]
    held = [f.text for f in kept if f.action is Guarded.HOLD]
    if held:
        return Verdict(Guarded.HOLD, tuple(held))
    if kept:
        return Verdict(Guarded.FLAG, tuple(f.text for f in kept))
    return Verdict(Guarded.PROCEED)
