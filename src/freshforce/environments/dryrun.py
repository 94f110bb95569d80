"""Predict, without writing, what a configuration would change in an environment's systems.

The clients flow is predicted whole: both systems are read (every client, Account and
Contact), every link of the store is planned with the three-way merge under the new maps as the
next reconcile would, and every unlinked record is matched or planned for creation as the
first sync would. Each record gets its action and, field by field, before → after. Invoices
and payments are decided from a change on one record at a time (a won Opportunity, a payment);
they are listed as not predicted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from freshforce.engine.syncstate import LinkState, Record, StoreState
from freshforce.engine.twoway import Plan, plan_sync
from freshforce.flows.clients_bulk import plan_first_sync, read_everything
from freshforce.flows.clients_plan import Action, Unit, sides_of
from freshforce.store.links import all_links
from freshforce.store.scope import Scope
from freshforce.store.snapshots import load_snapshots

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from freshforce.engine.pair import Pair
    from freshforce.flows.clients_read import Remote
    from freshforce.mapping import FlowMap, MapSet

__all__ = ["FieldChange", "FlowPrediction", "RecordChange", "predict"]

Progress = Callable[[str, int], None]


@dataclass(frozen=True)
class FieldChange:
    """One field a write would set: where, its value now and after."""

    field: str  # Account.Name, Contact.Email, or a FreshBooks client field
    before: Any  # Any: wire values
    after: Any


@dataclass(frozen=True)
class RecordChange:
    """One record and what the configuration would do to it."""

    record: str
    action: str  # create in Salesforce, create in FreshBooks, update, review
    fields: tuple[FieldChange, ...] = ()


@dataclass
class FlowPrediction:
    """One flow's predicted effect: counts per action (``leave`` included) and the records."""

    flow: str
    predicted: bool = True
    counts: Counter[str] = field(default_factory=Counter)
    records: list[RecordChange] = field(default_factory=list)


async def predict(
    maps: MapSet, pair: Pair, engine: AsyncEngine, *, tenant: str, progress: Progress | None = None
) -> list[FlowPrediction]:
    """Return per flow what ``maps`` would change in ``pair``'s systems; write nothing."""
    found = []
    for name in maps.flows:
        if name == "clients":
            found.append(await _clients(maps["clients"], pair, engine, tenant, progress))
        else:
            found.append(FlowPrediction(name, predicted=False))
    return found


async def _clients(
    flow: FlowMap, pair: Pair, engine: AsyncEngine, tenant: str, progress: Progress | None
) -> FlowPrediction:
    scope = Scope(tenant, "clients")
    remote = await read_everything(flow, pair, progress=progress)
    state = await _links(engine, scope)
    result = FlowPrediction("clients")
    for _, linked in sorted(state.by_id.items()):
        _linked(flow, linked, remote, result)
    for unit in plan_first_sync(flow, remote, state, scope):
        _unlinked(unit, remote, result)
    return result


def _linked(flow: FlowMap, linked: LinkState, remote: Remote, result: FlowPrediction) -> None:
    link = linked.link
    fb_id, account_id = link.freshbooks_id or "", link.salesforce_id or ""
    if fb_id not in remote.clients or account_id not in remote.accounts:
        result.counts["leave"] += 1  # a deletion: the flow's delete policy, not the config
        return
    unit = Unit(jobs=[], record=Record(Scope(link.tenant, link.flow), None))
    unit.contact_id = link.salesforce_secondary_id
    base = linked.snapshot.fields if linked.snapshot else None
    plan = plan_sync(flow, sides_of(unit, remote, fb_id, account_id), base)
    changes = _changes(plan, remote, fb_id, account_id, unit.contact_id)
    if not changes:
        result.counts["leave"] += 1
        return
    result.counts["update"] += 1
    result.records.append(RecordChange(_label(remote, fb_id, account_id), "update", changes))


def _unlinked(unit: Unit, remote: Remote, result: FlowPrediction) -> None:
    label = _label(remote, unit.fb_id, unit.account_id)
    if unit.error is not None:
        result.counts["review"] += 1
        result.records.append(RecordChange(f"{label}: {unit.error}", "review"))
        return
    action = {
        Action.CREATE_SALESFORCE: "create in Salesforce",
        Action.CREATE_FRESHBOOKS: "create in FreshBooks",
        Action.SYNC: "link and update",
    }.get(unit.action)
    if action is None or unit.plan is None:
        result.counts["leave"] += 1
        return
    changes = _changes(unit.plan, remote, unit.fb_id, unit.account_id, unit.contact_id)
    if unit.action is Action.SYNC and not changes:
        action = "link"
    result.counts[action] += 1
    result.records.append(RecordChange(label, action, changes))


def _changes(
    plan: Plan, remote: Remote, fb_id: str | None, account_id: str | None, contact_id: str | None
) -> tuple[FieldChange, ...]:
    contact = remote.contacts.get(contact_id or "") or remote.first_contact.get(account_id or "")
    current = {"Account": remote.accounts.get(account_id or "", {}), "Contact": contact or {}}
    changes = [
        FieldChange(f"{obj}.{name}", current.get(obj, {}).get(name), value)
        for obj, values in sorted(plan.salesforce.items())
        for name, value in sorted(values.items())
    ]
    client = remote.clients.get(fb_id or "", {})
    changes += [
        FieldChange(name, client.get(name), value)
        for name, value in sorted(plan.freshbooks.items())
    ]
    return tuple(changes)


def _label(remote: Remote, fb_id: str | None, account_id: str | None) -> str:
    client = remote.clients.get(fb_id or "")
    if client is not None:
        name = (
            client.get("organization") or f"{client.get('fname') or ''} {client.get('lname') or ''}"
        )
        return f"{str(name).strip()} (client {fb_id})"
    account = remote.accounts.get(account_id or "", {})
    return f"{account.get('Name') or ''} (Account {account_id})"


async def _links(engine: AsyncEngine, scope: Scope) -> StoreState:
    async with engine.connect() as db:
        found = await all_links(db, scope)
        snapshots = await load_snapshots(db, [k.id for k in found])
    state = StoreState()
    for link in found:
        state.add(LinkState(link, snapshots.get(link.id), {}, {}))
    return state
