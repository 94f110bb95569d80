"""Values a side refuses: the record is written again without them, and each is parked.

When Salesforce refuses a row of a Collections write for the value of fields its error names
(an e-mail it cannot parse, a validation rule shown on a field, a text too long), or FreshBooks
refuses a client write naming a field (errno 1001, 1004, 1017, 1018), the write is sent again
without those fields, so the rest of the record syncs. Each refused field is remembered on its
unit and parked for review (a ``refused`` conflict with the refusing side's own code and
message); the snapshot keeps what the refusing side holds, so the field waits until its source
changes it or a person settles it. A write refused for any other reason, or naming a field it
cannot do without (its id, its Account, the external id) or a field it did not send, fails its
unit as before.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from freshforce.connectors.salesforce.errors import SalesforceFault, refused_fields
from freshforce.connectors.salesforce.models import WriteResult
from freshforce.engine.twoway import freshbooks_view, salesforce_view
from freshforce.errors import RefusedValueError
from freshforce.flows.clients_read import EXTERNAL_ID
from freshforce.mapping import Direction
from freshforce.mapping.merge import same_value
from freshforce.store.conflicts import ConflictKind, Parked

if TYPE_CHECKING:
    from freshforce.engine.twoway import Sides
    from freshforce.flows.clients_plan import Unit
    from freshforce.mapping import FlowMap

__all__ = [
    "Refusal",
    "Row",
    "freshbooks_refs",
    "park_refusals",
    "write_freshbooks_refusing",
    "write_refusing",
]

T = TypeVar("T")

Row = tuple["Unit", str, dict[str, Any]]  # the unit, the object, the fields sent; Any: wire
_KEEP = frozenset({"id", "userid", "accountid", EXTERNAL_ID.lower()})


@dataclass(frozen=True)
class Refusal:
    """One field a side refused: where, the value sent, and the refusing side's own words."""

    ref: str  # "Contact.Email"; a FreshBooks field name ("email") when FreshBooks refused it
    value: Any  # Any: the wire value sent
    code: str
    message: str
    system: str = "salesforce"  # the side that refused it


async def write_freshbooks_refusing(
    unit: Unit, body: dict[str, Any], call: Callable[[dict[str, Any]], Awaitable[T]]
) -> T | None:
    """Write ``body`` with ``call``; refused a field's value, write again without it.

    Returns None when nothing is left to write. ``body`` loses the refused fields.
    """
    while True:
        try:
            return await call(body)
        except RefusedValueError as exc:
            names = [f for f in exc.fields if f in body and f.lower() not in _KEEP]
            if not names or len(names) != len(exc.fields):
                raise
            for name in names:
                code, value = exc.remote_code or "", body.pop(name)
                unit.refused.append(Refusal(name, value, code, exc.detail, "freshbooks"))
            if not body:
                return None


def freshbooks_refs(flow: FlowMap, unit: Unit) -> dict[str, Any]:
    """Return the compared refs of the FreshBooks fields refused so far, with their base."""
    assert unit.plan is not None  # noqa: S101 - called for planned units only
    refs = {ref for r in unit.refused if r.system == "freshbooks" for ref in _refs(flow, r.ref)}
    return {ref: unit.plan.snapshot[ref] for ref in refs if ref in unit.plan.snapshot}


def _refs(flow: FlowMap, name: str) -> tuple[str, ...]:
    for rule in flow.rules:
        if name in rule.freshbooks and rule.salesforce:
            return rule.salesforce
    return ()


async def write_refusing(
    rows: list[Row], call: Callable[[list[Row]], Awaitable[Sequence[WriteResult]]]
) -> list[WriteResult]:
    """Write ``rows`` with ``call``; send a row refused for field values again without them."""
    results: list[WriteResult | None] = [None] * len(rows)
    pending = list(range(len(rows)))
    while pending:  # each pass drops at least one field of each row it sends again
        again: list[int] = []
        done = await call([rows[i] for i in pending])
        for i, result in zip(pending, done, strict=True):
            unit, obj, row = rows[i]
            refused = _refused(row, result)
            if not refused:
                results[i] = result
                continue
            for name, fault in refused:
                unit.refused.append(
                    Refusal(f"{obj}.{name}", row.pop(name), fault.code, fault.message)
                )
            if {k.lower() for k in row} <= {"id"}:  # an update with nothing left to write
                results[i] = WriteResult(str(row.get("Id")), success=True)
            else:
                again.append(i)
        pending = again
    return [r for r in results if r is not None]


def _refused(row: dict[str, Any], result: WriteResult) -> list[tuple[str, SalesforceFault]]:
    """Return the row's fields ``result`` refuses the values of, or none if it is not only that."""
    if result.success or not result.errors:
        return []
    keys = {k.lower(): k for k in row}
    found: dict[str, SalesforceFault] = {}
    for fault in result.errors:
        named = [keys.get(f.lower()) for f in refused_fields(fault)]
        if not named or None in named or any(n.lower() in _KEEP for n in named if n):
            return []
        found.update((n, fault) for n in named if n and n not in found)
    return list(found.items())


def park_refusals(flow: FlowMap, unit: Unit, sides: Sides) -> None:
    """Park the unit's refused fields and close the refused ones that synced this time.

    ``sides`` is both records after the writes: a refused field's snapshot is what Salesforce
    holds, so the refused value shows as a change not yet synced and waits (engine/twoway.py).
    """
    plan, record = unit.plan, unit.record
    assert plan is not None  # noqa: S101 - called for planned units only
    held = salesforce_view(flow, sides.salesforce)
    _park_freshbooks(flow, unit, sides)
    for refusal in unit.refused:
        if refusal.system != "salesforce":
            continue
        kept = _plain(held.get(refusal.ref, _field(sides, refusal.ref)))
        if refusal.ref in plan.snapshot:
            plan.snapshot[refusal.ref] = kept
        record.parked.append(
            Parked(
                0, refusal.ref, kept, _plain(refusal.value), kept,
                freshbooks_changed_at=sides.freshbooks_modified,
                salesforce_changed_at=sides.salesforce_modified.get(refusal.ref.split(".")[0]),
                kind=ConflictKind.REFUSED, refused_by="salesforce",
                error_code=refusal.code, error_message=refusal.message,
            )
        )  # fmt: skip
    if unit.state is None:
        return
    again = {p.field for p in record.parked}  # refused (again) in this sync
    written = {f"{w.object}.{w.field}": w.after for w in record.writes if w.system == "salesforce"}
    for name, item in unit.state.held.items():
        if item.kind is not ConflictKind.REFUSED or name in again:
            continue
        merge = plan.merges.get(name)
        if name in written or (merge is not None and merge.winner != "held"):
            record.fixed[name] = written.get(name, plan.snapshot.get(name))


def _park_freshbooks(flow: FlowMap, unit: Unit, sides: Sides) -> None:
    """Park the refs of each FreshBooks field refused whose value FreshBooks does not hold."""
    plan, record = unit.plan, unit.record
    assert plan is not None  # noqa: S101 - called for planned units only
    held = freshbooks_view(flow, flow.apply(sides.freshbooks, Direction.TO_SALESFORCE))
    for refusal in unit.refused:
        if refusal.system != "freshbooks":
            continue
        refs = _refs(flow, refusal.ref) or (refusal.ref,)
        for ref in refs:
            kept, wanted = _plain(held.get(ref)), _plain(plan.snapshot.get(ref, refusal.value))
            if len(refs) > 1 and same_value(kept, wanted):
                continue  # a rule of several fields: this one was written
            if ref in plan.snapshot:
                plan.snapshot[ref] = kept
            record.parked.append(
                Parked(
                    0, ref, kept, kept, wanted,
                    freshbooks_changed_at=sides.freshbooks_modified,
                    salesforce_changed_at=sides.salesforce_modified.get(ref.split(".")[0]),
                    kind=ConflictKind.REFUSED, refused_by="freshbooks",
                    error_code=refusal.code, error_message=refusal.message,
                )
            )  # fmt: skip


def _plain(value: Any) -> Any:  # noqa: ANN401 - a wire value made JSON-safe
    return json.loads(json.dumps(value, default=str))


def _field(sides: Sides, ref: str) -> Any:  # noqa: ANN401 - a wire value
    obj, _, name = ref.partition(".")
    return (sides.salesforce.get(obj) or {}).get(name)
