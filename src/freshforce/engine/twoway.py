"""The three-way merge of one linked record: what to write to each side, and the new snapshot.

Both sides are compared in one space, the Salesforce field refs (``Account.Name``):
FreshBooks' view is the record mapped to Salesforce; Salesforce's view is its record mapped to
FreshBooks and back, so a transform's normal form (a lower-cased e-mail, "Ontario" for "ON")
never looks like an edit. Against the snapshot of the last sync, each two-way field is then
unchanged, changed on one side (copied over) or changed on both (its policy decides, and
``review`` parks that field only). The merged value ``M`` of every field is what both sides
hold after the writes; the new snapshot is ``M`` except for parked fields, which keep their base.
A field whose value the other side refused (parked as ``refused``) waits, keeping its base, for
as long as its changed side still shows the refused value; changed again, it merges as any edit.

One-way rules copy their source whenever the target differs; a rule with no source field (a
default such as ``Account.Type``) applies when a record is created only. All of this is pure:
the flow reads, calls :func:`plan_sync` or :func:`plan_create`, then writes what they say.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from freshforce.mapping import (
    Direction,
    FieldComparison,
    FieldRule,
    FieldState,
    FieldTrace,
    FlowMap,
    MappedRecord,
    Policy,
)
from freshforce.mapping.merge import same_value

__all__ = ["Merge", "Plan", "Sides", "plan_create", "plan_sync", "salesforce_view"]

SalesforceRecord = Mapping[str, Mapping[str, Any]]  # {"Account": {...}, "Contact": {...}}


@dataclass(frozen=True)
class Sides:
    """The current state of one business record on both sides, with each side's modified time."""

    freshbooks: Mapping[str, Any]
    salesforce: SalesforceRecord
    freshbooks_modified: datetime | None = None
    salesforce_modified: Mapping[str, datetime | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Merge:
    """Why one field got its merged value."""

    comparison: FieldComparison
    winner: str  # "freshbooks", "salesforce", "both", "resolved", "held" or "parked"


@dataclass
class Plan:
    """The writes one record needs, the snapshot to store after them, the fields parked."""

    salesforce: dict[str, dict[str, Any]] = field(default_factory=dict)  # object → field → value
    freshbooks: dict[str, Any] = field(default_factory=dict)
    snapshot: dict[str, Any] = field(default_factory=dict)
    parked: list[FieldComparison] = field(default_factory=list)
    merges: dict[str, Merge] = field(default_factory=dict)
    traces: dict[str, FieldTrace] = field(default_factory=dict)  # by target ref or field

    @property
    def writes(self) -> int:
        return sum(len(v) for v in self.salesforce.values()) + len(self.freshbooks)


def two_way_refs(flow: FlowMap) -> tuple[str, ...]:
    """Return the Salesforce refs of the flow's two-way rules, in rule order."""
    return tuple(ref for rule in flow.rules if _two_way(rule) for ref in rule.salesforce)


def salesforce_view(flow: FlowMap, record: SalesforceRecord) -> dict[str, Any]:
    """Return Salesforce's two-way fields in their normal form (mapped there and back)."""
    there = flow.apply(record, Direction.TO_FRESHBOOKS)
    back = flow.apply(there.values, Direction.TO_SALESFORCE)
    return {ref: back.values.get(ref) for ref in two_way_refs(flow)}


def freshbooks_view(flow: FlowMap, mapped: MappedRecord) -> dict[str, Any]:
    """Return FreshBooks' two-way fields as mapped to Salesforce refs."""
    return {ref: mapped.values.get(ref) for ref in two_way_refs(flow)}


def plan_sync(
    flow: FlowMap,
    sides: Sides,
    base: Mapping[str, Any] | None,
    *,
    held: Mapping[str, Any] | None = None,
    resolved: Mapping[str, Any] | None = None,
    refused: Mapping[str, Any] | None = None,
) -> Plan:
    """Plan the writes of a linked record against its snapshot ``base``.

    ``held`` are fields with an open conflict (they wait, keeping their base value);
    ``resolved`` are fields a person settled since the last sync, with the chosen value;
    ``refused`` are fields whose value the other side refused, with that value (they wait
    while the side they came from still shows it).
    """
    held, resolved = held or {}, resolved or {}
    to_sf = flow.apply(sides.freshbooks, Direction.TO_SALESFORCE)
    to_fb = flow.apply(sides.salesforce, Direction.TO_FRESHBOOKS)
    fb_view = freshbooks_view(flow, to_sf)
    sf_view = salesforce_view(flow, sides.salesforce)
    absent = _absent_keep_base(sides, sf_view, fb_view, base)
    held = {**held, **_still_refused(base, refused or {}, fb_view, sf_view)}
    plan = Plan()
    merged: dict[str, Any] = {}
    for ref, comparison in flow.compare(base, fb_view, sf_view).items():
        if ref not in fb_view:
            continue
        winner, value = _settle(comparison, sides, held, resolved)
        plan.merges[ref] = Merge(comparison, winner)
        if winner == "parked":
            plan.parked.append(comparison)
        if winner in {"parked", "held"}:
            plan.snapshot[ref] = comparison.base
            continue
        merged[ref] = plan.snapshot[ref] = value
        if not same_value(sf_view.get(ref), value):
            _put(plan.salesforce, ref, value)
            if ref in to_sf.traces and winner == "freshbooks":
                plan.traces[ref] = to_sf.traces[ref]
    _fill_new_objects(absent if base is None else absent & set(plan.salesforce), merged, plan)
    _freshbooks_writes(flow, sides, merged, fb_view, plan)
    _one_way(flow, sides, to_sf, to_fb, plan)
    return plan


def _still_refused(
    base: Mapping[str, Any] | None,
    refused: Mapping[str, Any],
    fb_view: Mapping[str, Any],
    sf_view: Mapping[str, Any],
) -> dict[str, Any]:
    """Return the refused fields whose changed side still shows the refused value."""
    if not refused or base is None:
        return {}
    waiting: dict[str, Any] = {}
    for ref, value in refused.items():
        for view in (fb_view, sf_view):
            moved = ref in view and not same_value(view[ref], base.get(ref))
            if moved and same_value(view[ref], value):
                waiting[ref] = base.get(ref)
    return waiting


def _absent_keep_base(
    sides: Sides,
    sf_view: dict[str, Any],
    fb_view: Mapping[str, Any],
    base: Mapping[str, Any] | None,
) -> set[str]:
    """Give the fields of objects Salesforce does not have their base; return those objects.

    An Account without a Contact shows no edit: the Contact's fields are not "emptied in
    Salesforce" but not there yet. Without a base (a record linked just now, or linked again
    after the store lost its link) they show FreshBooks' values: there is nothing to compare.
    """
    absent = {obj for obj, record in sides.salesforce.items() if not record}
    for ref in sf_view:
        if ref.partition(".")[0] in absent:
            sf_view[ref] = fb_view.get(ref) if base is None else base.get(ref)
    return absent


def _fill_new_objects(new: set[str], merged: Mapping[str, Any], plan: Plan) -> None:
    """Give each object Salesforce does not have yet (a new Contact) all its merged fields."""
    for obj in new:
        for ref, value in merged.items():
            if ref.partition(".")[0] == obj and value not in (None, ""):
                _put(plan.salesforce, ref, value)


def plan_create(flow: FlowMap, source: Direction, sides: Sides) -> Plan:
    """Plan a new record on the far side of ``source`` (``TO_SALESFORCE``: FreshBooks is new)."""
    plan = Plan()
    if source is Direction.TO_SALESFORCE:
        mapped = flow.apply(sides.freshbooks, Direction.TO_SALESFORCE)
        for ref, value in mapped.values.items():
            _put(plan.salesforce, ref, value)
        plan.snapshot = freshbooks_view(flow, mapped)
    else:
        mapped = flow.apply(sides.salesforce, Direction.TO_FRESHBOOKS)
        plan.freshbooks = dict(mapped.values)
        plan.snapshot = salesforce_view(flow, sides.salesforce)
    plan.traces = dict(mapped.traces)
    return plan


def _settle(  # noqa: PLR0911 - one return per way a field settles
    comparison: FieldComparison,
    sides: Sides,
    held: Mapping[str, Any],
    resolved: Mapping[str, Any],
) -> tuple[str, Any]:
    ref = comparison.field
    if ref in resolved:
        return "resolved", resolved[ref]
    if ref in held:
        return "held", comparison.base
    state = comparison.state
    if state in {FieldState.UNCHANGED, FieldState.BOTH_SAME}:
        return "both", comparison.freshbooks
    if state is FieldState.FRESHBOOKS_CHANGED:
        return "freshbooks", comparison.freshbooks
    if state is FieldState.SALESFORCE_CHANGED:
        return "salesforce", comparison.salesforce
    policy = comparison.policy
    if policy is Policy.REVIEW:
        return "parked", comparison.base
    if policy is Policy.NEWEST_WINS:
        policy = _newest(ref, sides)
    if policy is Policy.FRESHBOOKS_WINS:
        return "freshbooks", comparison.freshbooks
    return "salesforce", comparison.salesforce


def _newest(ref: str, sides: Sides) -> Policy:
    """FreshBooks wins only when its record changed strictly later than the ref's object."""
    obj = ref.partition(".")[0]
    fb, sf = sides.freshbooks_modified, sides.salesforce_modified.get(obj)
    if fb is not None and (sf is None or fb > sf):
        return Policy.FRESHBOOKS_WINS
    return Policy.SALESFORCE_WINS


def _freshbooks_writes(
    flow: FlowMap,
    sides: Sides,
    merged: Mapping[str, Any],
    fb_view: Mapping[str, Any],
    plan: Plan,
) -> None:
    """Write each two-way rule whose FreshBooks view differs from the merged value."""
    stale = [
        rule
        for rule in flow.rules
        if _two_way(rule)
        and any(r in merged and not same_value(fb_view.get(r), merged[r]) for r in rule.salesforce)
    ]
    if not stale:
        return
    overlay: dict[str, dict[str, Any]] = {k: dict(v) for k, v in sides.salesforce.items()}
    for ref, value in merged.items():
        obj, _, name = ref.partition(".")
        overlay.setdefault(obj, {})[name] = value
    mapped = flow.apply(overlay, Direction.TO_FRESHBOOKS)
    for rule in stale:
        for name in rule.freshbooks:
            if name in mapped.values and not same_value(
                sides.freshbooks.get(name), mapped.values[name]
            ):
                plan.freshbooks[name] = mapped.values[name]
                plan.traces[name] = mapped.traces[name]


def _one_way(
    flow: FlowMap, sides: Sides, to_sf: MappedRecord, to_fb: MappedRecord, plan: Plan
) -> None:
    for rule in flow.rules:
        chain = rule.chains.get(rule.direction)
        if rule.direction is Direction.BOTH or chain is None or not chain.sources:
            continue
        if rule.direction is Direction.TO_SALESFORCE:
            for ref in rule.salesforce:
                obj, _, name = ref.partition(".")
                value = to_sf.values.get(ref)
                if ref in to_sf.values and not same_value(_get(sides, obj, name), value):
                    _put(plan.salesforce, ref, value)
                    plan.traces[ref] = to_sf.traces[ref]
        else:
            for name in rule.freshbooks:
                value = to_fb.values.get(name)
                if name in to_fb.values and not same_value(sides.freshbooks.get(name), value):
                    plan.freshbooks[name] = value
                    plan.traces[name] = to_fb.traces[name]


def _two_way(rule: FieldRule) -> bool:
    return rule.direction is Direction.BOTH and bool(rule.freshbooks) and bool(rule.salesforce)


def _get(sides: Sides, obj: str, name: str) -> Any:  # noqa: ANN401 - a wire value
    return (sides.salesforce.get(obj) or {}).get(name)


def _put(target: dict[str, dict[str, Any]], ref: str, value: Any) -> None:  # noqa: ANN401
    obj, _, name = ref.partition(".")
    target.setdefault(obj, {})[name] = value
