"""What a person does in the Salesforce web UI that the REST API cannot: merging records.

A merge keeps one master Account or Contact and folds up to two losers into it, as the UI's
merge wizard does: the master takes the chosen field values, the losers' children move to the
master, and the losers go to the recycle bin with ``MasterRecordId`` set. Change Data Capture
sees it the way the real org reports a merge: an UPDATE on the master, a DELETE per loser, and an
UPDATE per re-parented child, all in one transaction.

``ui_context`` builds the ``WriteContext`` of a person's edit (no ``;client=`` in
``changeOrigin``), used for every UI action.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from freshforce.sandbox.salesforce.objects import ObjectSpec
from freshforce.sandbox.salesforce.state import SalesforceState, Transaction, WriteContext

__all__ = ["MergeError", "MergeResult", "Origin", "merge", "ui_context"]

Origin = Literal["lightning", "classic"]

# (child object, reference field) moved from each loser to the master.
_REPARENT: dict[str, tuple[tuple[str, str], ...]] = {
    "Account": (("Contact", "AccountId"), ("Opportunity", "AccountId"), ("Account", "ParentId")),
    "Contact": (("OpportunityContactRole", "ContactId"), ("Opportunity", "ContactId")),
}
_MAX_LOSERS = 2


class MergeError(ValueError):
    """A merge request that the UI would not offer; the message names the bad input."""


@dataclass(frozen=True)
class MergeResult:
    """The surviving record, the merged-away ones and the children that moved."""

    master: str
    losers: tuple[str, ...]
    reparented: tuple[str, ...]


def ui_context(
    user_id: str, origin: Origin = "lightning", api_version: str = "59.0"
) -> WriteContext:
    """Return the context of a person's edit: Lightning reports the REST origin, Classic none."""
    return WriteContext(
        user_id=user_id, api_version=api_version, api="rest" if origin == "lightning" else ""
    )


def merge(
    state: SalesforceState,
    ctx: WriteContext,
    object_name: str,
    *,
    master_id: str,
    loser_ids: Sequence[str],
    fields: Mapping[str, object],
) -> MergeResult:
    """Merge ``loser_ids`` into ``master_id``; on MergeError or SalesforceError nothing changes."""
    spec = _mergeable(state, object_name, master_id, loser_ids)
    with state.transaction(ctx) as tx:
        master = str(state.read(spec.name, master_id)["Id"])
        losers = tuple(str(state.read(spec.name, i)["Id"]) for i in loser_ids)
        if master in losers or len(set(losers)) != len(losers):
            raise MergeError("losers: each record may appear once and not be the master")
        _update_master(tx, spec, master, fields)
        moved = [c for loser in losers for c in _reparent(tx, state, spec.name, loser, master)]
        for loser in losers:
            tx.delete(spec.name, loser)
        order = {master: 0, **dict.fromkeys(losers, 1)}
        tx.pending.sort(key=lambda change: order.get(change.record_ids[0], 2))
    for loser in losers:  # after commit: nothing can fail, and undo restores the live record
        deleted = state.tables.get(spec.name, loser)
        state.tables.put(spec, loser, {**(deleted or {}), "MasterRecordId": master})
    return MergeResult(master, losers, tuple(moved))


def _mergeable(
    state: SalesforceState, object_name: str, master_id: str, loser_ids: Sequence[str]
) -> ObjectSpec:
    spec = state.catalog.get(object_name)
    if spec is None or spec.name not in _REPARENT:
        raise MergeError(f"object: only Account and Contact can be merged, not {object_name!r}")
    if not 1 <= len(loser_ids) <= _MAX_LOSERS:
        raise MergeError(f"losers: give one or two records to merge into {master_id}")
    return spec


def _update_master(
    tx: Transaction, spec: ObjectSpec, master: str, fields: Mapping[str, object]
) -> None:
    if fields:
        tx.update(spec.name, master, fields)
        return
    current = tx.state.read(spec.name, master)
    tx.write(spec, current, dict(current))  # stamped and reported even with nothing chosen


def _reparent(
    tx: Transaction, state: SalesforceState, object_name: str, loser: str, master: str
) -> list[str]:
    moved: list[str] = []
    for child_name, field_name in _REPARENT[object_name]:
        child_spec = state.describe(child_name)
        for child_id in sorted(state.tables.lookup(child_spec, field_name, loser)):
            child = state.tables.get(child_name, child_id)
            if child is None or child["IsDeleted"] or child_id == master:
                continue
            tx.update(child_name, child_id, {field_name: master})
            moved.append(child_id)
    return moved
