"""A mirror flow's plan for one FreshBooks record: what its Salesforce copy must become.

``plan_record`` maps the record (its lines included) with the mirror map, adds the parent
lookups and the external ids, and compares with what Salesforce holds: only what differs is
written; children not in the record any more are deleted (no orphans); a record the guard
protects (an activated Order) is not edited but flagged for review.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from freshforce.engine.fieldlog import jsonable
from freshforce.errors import ConflictError, TransientError
from freshforce.mapping import DeletePolicy, Direction, System

if TYPE_CHECKING:
    from freshforce.flows.mirror_read import Existing
    from freshforce.mapping import FlowMap

__all__ = ["Plan", "line_key", "plan_record"]

_DELETED = 1  # FreshBooks vis_state: 0 active, 1 deleted, 2 archived


@dataclass
class Plan:
    """One record's writes: the parent's fields, children to upsert, records to delete."""

    key: str  # the parent's external id (the FreshBooks id)
    existing: Existing | None
    parent: dict[str, Any] | None = None  # fields to upsert (None: the parent is as wanted)
    children: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> fields
    orphans: list[str] = field(default_factory=list)  # child ids to delete
    delete: bool = False  # delete the mirror (children first)

    @property
    def idle(self) -> bool:
        return self.parent is None and not self.children and not self.orphans and not self.delete


def line_key(record_id: str, line: Mapping[str, Any], position: int) -> str:
    """Return a line's external id: the record's id and the line's id (else its position)."""
    return f"{record_id}-{line.get('lineid') or position + 1}"


def plan_record(  # noqa: PLR0917 - one record's inputs, from the flow's batch
    flow_map: FlowMap,
    record_key: str,
    key: str,
    raw: Mapping[str, Any] | None,
    existing: Existing | None,
    parents: Mapping[str, Mapping[str, str]],
) -> Plan:
    """Return what the record's mirror needs (raise ``FreshforceError`` for the jobs' outcome)."""
    spec = flow_map.mirror
    assert spec is not None  # noqa: S101 - a mirror map has its section
    plan = Plan(key, existing)
    policy = flow_map.deletes[System.FRESHBOOKS]
    gone = raw is None or raw.get("vis_state") == _DELETED
    if gone and (raw is None or policy is not DeletePolicy.ARCHIVE):
        if policy is DeletePolicy.PROPAGATE and existing is not None:
            _guard(flow_map, existing, key)
            plan.delete = True
        return plan
    assert raw is not None  # noqa: S101 - a gone record returned above
    target = flow_map.salesforce_objects[0]
    mapped = flow_map.apply(raw, Direction.TO_SALESFORCE, record_key=record_key)
    wanted = _plain(mapped.by_object().get(target, {}))
    for lookup in spec.lookups:
        source = raw.get(lookup.source)
        found = parents.get(lookup.field, {}).get(str(source)) if source not in {None, ""} else None
        if found is None and lookup.required:
            msg = (
                f"{lookup.field} of {target} {key}: FreshBooks {lookup.source} {source} has no "
                f"Salesforce record yet (link it first); the mirror waits for it"
            )
            raise TransientError(msg, retry_after=2.0, flow=flow_map.flow, record_key=record_key)
        wanted[lookup.field] = found
    wanted[spec.external_id] = key
    plan.parent = _changes(wanted, existing.record if existing else None, spec.create_only)
    if spec.lines is not None and flow_map.lines is not None:
        _plan_children(flow_map, plan, raw, [line.by_object() for line in mapped.lines])
    if existing is not None and not plan.idle:
        _guard(flow_map, existing, key)
    return plan


def _plan_children(
    flow_map: FlowMap,
    plan: Plan,
    raw: Mapping[str, Any],
    lines: list[dict[str, dict[str, Any]]],
) -> None:
    spec = flow_map.mirror
    assert spec is not None  # noqa: S101
    assert spec.lines is not None  # noqa: S101
    assert flow_map.lines is not None  # noqa: S101
    child = flow_map.lines.salesforce
    raw_lines = list(raw.get("lines") or [])
    have = plan.existing.children if plan.existing else {}
    # The parent lookup and the create-only fields are set once, on create.
    fixed = [*spec.lines.create_only, spec.lines.parent]
    for position, (line, values) in enumerate(zip(raw_lines, lines, strict=True)):
        ident = line_key(plan.key, line, position)
        wanted = _plain(values.get(child, {})) | {spec.lines.external_id: ident}
        changes = _changes(wanted, have.get(ident), fixed)
        if changes is not None:
            plan.children[ident] = changes
    kept = {line_key(plan.key, line, i) for i, line in enumerate(raw_lines)}
    plan.orphans = [str(row["Id"]) for ident, row in have.items() if ident not in kept]


def _guard(flow_map: FlowMap, existing: Existing, key: str) -> None:
    spec = flow_map.mirror
    assert spec is not None  # noqa: S101
    guard = spec.guard
    if guard is None or str(existing.record.get(guard.field)) not in guard.values:
        return
    target = flow_map.salesforce_objects[0]
    msg = (
        f"{target} {existing.id} (FreshBooks {flow_map.freshbooks_object} {key}) is "
        f"{guard.field} {existing.record.get(guard.field)}: the FreshBooks change is not written "
        f"and is flagged for review; put it back to a state the mirror may edit, then run the "
        f"job again"
    )
    raise ConflictError(msg, flow=flow_map.flow, system="salesforce")


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: jsonable(v) for k, v in values.items()}


def _changes(
    wanted: Mapping[str, Any], current: Mapping[str, Any] | None, fixed: list[str]
) -> dict[str, Any] | None:
    """Return the fields to send: all (but empty ones) to create, the differing ones to edit."""
    if current is None:
        return {k: v for k, v in wanted.items() if v is not None}
    changed = {k: v for k, v in wanted.items() if k not in fixed and not _same(current.get(k), v)}
    return changed or None


def _same(current: object, wanted: object) -> bool:
    if current is None or wanted is None:
        return current in {None, ""} and wanted in {None, ""}
    if isinstance(current, bool) or isinstance(wanted, bool):
        return str(current).lower() == str(wanted).lower()
    try:
        return Decimal(str(current)) == Decimal(str(wanted))
    except (InvalidOperation, ValueError):
        return str(current) == str(wanted)
