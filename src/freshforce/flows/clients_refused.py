"""Values Salesforce refuses: the record is written again without them, and each is parked.

When Salesforce refuses a row of a Collections write for the value of fields its error names
(an e-mail it cannot parse, a validation rule shown on a field, a text too long), the row is sent
again without those fields, so the rest of the record syncs. Each refused field is remembered on
its unit and parked for review (a ``refused`` conflict with Salesforce's own code and message);
the snapshot keeps what Salesforce holds, so the field waits until its source changes it or a
person settles it. A row refused for any other reason, or naming a field it cannot do without
(its id, its Account, the external id) or a field it did not send, fails its unit as before.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from freshforce.connectors.salesforce.errors import SalesforceFault, refused_fields
from freshforce.connectors.salesforce.models import WriteResult
from freshforce.engine.twoway import salesforce_view
from freshforce.flows.clients_read import EXTERNAL_ID
from freshforce.store.conflicts import ConflictKind, Parked

if TYPE_CHECKING:
    from freshforce.engine.twoway import Sides
    from freshforce.flows.clients_plan import Unit
    from freshforce.mapping import FlowMap

__all__ = ["Refusal", "Row", "park_refusals", "write_refusing"]

Row = tuple["Unit", str, dict[str, Any]]  # the unit, the object, the fields sent; Any: wire
_KEEP = frozenset({"id", "accountid", EXTERNAL_ID.lower()})


@dataclass(frozen=True)
class Refusal:
    """One field Salesforce refused: where, the value sent, and Salesforce's own words."""

    ref: str  # "Contact.Email"
    value: Any  # Any: the wire value sent
    code: str
    message: str


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
    for refusal in unit.refused:
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
    again = {r.ref for r in unit.refused}
    written = {f"{w.object}.{w.field}": w.after for w in record.writes if w.system == "salesforce"}
    for name, item in unit.state.held.items():
        if item.kind is not ConflictKind.REFUSED or name in again:
            continue
        merge = plan.merges.get(name)
        if name in written or (merge is not None and merge.winner != "held"):
            record.fixed[name] = written.get(name, plan.snapshot.get(name))


def _plain(value: Any) -> Any:  # noqa: ANN401 - a wire value made JSON-safe
    return json.loads(json.dumps(value, default=str))


def _field(sides: Sides, ref: str) -> Any:  # noqa: ANN401 - a wire value
    obj, _, name = ref.partition(".")
    return (sides.salesforce.get(obj) or {}).get(name)
