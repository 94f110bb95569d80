"""The clients flow's writes for a whole batch, and what each unit records afterwards.

Order: FreshBooks first (creates, each recorded in the ledger before its POST, then updates
and archive/restore/delete), then Salesforce in Collections calls: Accounts upserted on their
FreshBooks id (new ones) and updated (changes, and the FreshBooks id of clients just created),
then Contacts created and updated. A failed record fails its unit only; a record Salesforce
refuses for some fields' values is written without them and they are parked (clients_refused.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

from freshforce.connectors.salesforce.errors import classify
from freshforce.connectors.salesforce.ids import to_18
from freshforce.engine.matchkey import email_key, organisation_key
from freshforce.engine.twoway import Plan, Sides, plan_sync, salesforce_view
from freshforce.errors import FreshforceError, PermanentError
from freshforce.flows.clients_plan import ARCHIVED_FOR, Action, Unit, fb_view_of, sides_of
from freshforce.flows.clients_read import CLIENTS, EXTERNAL_ID, Remote, read_first_contacts
from freshforce.flows.clients_refused import (
    Row,
    freshbooks_refs,
    park_refusals,
    write_freshbooks_refusing,
    write_refusing,
)
from freshforce.store.conflicts import Parked
from freshforce.store.idempotency import CreateRef, LedgerState, begin_create
from freshforce.store.linking import NewLink
from freshforce.store.snapshots import Snapshot
from freshforce.store.writelog import FieldWrite

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from freshforce.connectors.salesforce.governor import Priority
    from freshforce.connectors.salesforce.models import WriteResult
    from freshforce.engine.pair import Pair
    from freshforce.mapping import FieldTrace, FlowMap

__all__ = ["write_units"]


async def write_units(
    flow: FlowMap,
    *,
    units: list[Unit],
    pair: Pair,
    remote: Remote,
    engine: AsyncEngine,
    priority: Priority,
) -> None:
    """Perform every unit's writes, then fill in what each unit records."""
    live = [u for u in units if u.error is None]
    await _freshbooks(flow, live, pair, remote, engine)
    live = [u for u in live if u.error is None]
    writer = _Salesforce(pair, priority, remote)
    creates = [u for u in live if u.action is Action.CREATE_SALESFORCE and u.plan]
    await writer.upsert_accounts(creates)
    updates = [u for u in live if u.error is None and u.plan and u.account_id]
    await writer.update(updates)
    await writer.create_contacts(updates)
    for unit in live:
        if unit.error is None:
            _finish(flow, unit, remote)


async def _freshbooks(
    flow: FlowMap, units: list[Unit], pair: Pair, remote: Remote, engine: AsyncEngine
) -> None:
    fb = pair.freshbooks
    creates = [u for u in units if u.action is Action.CREATE_FRESHBOOKS and u.plan]
    ledger = await _begin(engine, units[0].record.scope if units else None, creates)
    for unit in units:
        try:
            if unit.action is Action.CREATE_FRESHBOOKS and unit.plan is not None:
                entry = ledger[unit.account_id or ""]
                body = dict(unit.plan.freshbooks)
                if entry is not None:
                    made = await fb.get(CLIENTS, int(entry))  # created by an earlier attempt
                else:
                    sent = await write_freshbooks_refusing(unit, body, partial(fb.create, CLIENTS))
                    if sent is None:
                        raise PermanentError(f"{unit.describe()}: FreshBooks refused every field")
                    made = sent
                unit.fb_id = str(made.id)
                remote.clients[unit.fb_id] = dict(made.raw)
                remote.client_updated[unit.fb_id] = made.updated
                ref = CreateRef("freshbooks", "client", unit.account_id or "")
                unit.record.created.append((ref, unit.fb_id))
                _log(
                    unit, unit.plan, ("freshbooks", "client", unit.fb_id),
                    written=body, before={},
                )  # fmt: skip
                # The new client's id goes back to the Account (a one-way rule of the map).
                unit.plan = _after_create(flow, unit, remote, unit.plan)
            elif unit.action is Action.SYNC and unit.plan and unit.plan.freshbooks and unit.fb_id:
                before, body = remote.clients[unit.fb_id], dict(unit.plan.freshbooks)
                update = partial(fb.update, CLIENTS, int(unit.fb_id))
                made = await write_freshbooks_refusing(unit, body, update) or await fb.get(
                    CLIENTS, int(unit.fb_id)
                )
                remote.clients[unit.fb_id] = dict(made.raw)
                where = ("freshbooks", "client", unit.fb_id)
                _log(unit, unit.plan, where, written=body, before=before)
            elif unit.action is Action.ARCHIVE_FRESHBOOKS and unit.fb_id:
                await fb.set_vis_state(CLIENTS, int(unit.fb_id), 2)
                unit.record.extra_ids = {ARCHIVED_FOR: unit.account_id or ""}
            elif unit.action is Action.RESTORE_FRESHBOOKS and unit.fb_id:
                await fb.set_vis_state(CLIENTS, int(unit.fb_id), 0)
                unit.record.extra_ids = {}
            elif unit.action is Action.DELETE_FRESHBOOKS and unit.fb_id:
                await fb.set_vis_state(CLIENTS, int(unit.fb_id), 1)
                unit.record.forget = True
        except FreshforceError as exc:
            unit.error = exc


async def _begin(engine: AsyncEngine, scope: Any, creates: list[Unit]) -> dict[str, str | None]:  # noqa: ANN401
    """Record each FreshBooks create as pending before its POST; adopt ones already done."""
    found: dict[str, str | None] = {}
    if not creates:
        return found
    async with engine.begin() as db:
        for unit in creates:
            ref = CreateRef("freshbooks", "client", unit.account_id or "")
            entry, _new = await begin_create(db, scope, ref)
            done = entry.state is LedgerState.DONE and entry.remote_id
            found[unit.account_id or ""] = entry.remote_id if done else None
    return found


def _after_create(flow: FlowMap, unit: Unit, remote: Remote, created: Plan) -> Plan:
    sides = sides_of(unit, remote, unit.fb_id, unit.account_id)
    # A field FreshBooks refused is not "emptied in FreshBooks": it waits, parked.
    follow = plan_sync(flow, sides, created.snapshot, held=freshbooks_refs(flow, unit))
    follow.freshbooks.clear()  # the client was written just now from these very values
    follow.snapshot = created.snapshot
    return follow


class _Salesforce:
    """Batched Salesforce writes for a list of units, failing units one by one."""

    def __init__(self, pair: Pair, priority: Priority, remote: Remote) -> None:
        self.sf = pair.salesforce
        self.priority = priority
        self.remote = remote

    async def upsert_accounts(self, units: list[Unit]) -> None:
        """Create (or find again, after a lost answer) the Accounts of new clients."""
        rows: list[Row] = [
            (u, "Account", {**u.plan.salesforce.get("Account", {}), EXTERNAL_ID: u.fb_id})
            for u in units
            if u.plan
        ]
        results = await self._call(
            rows,
            lambda batch: self.sf.upsert(
                "Account", EXTERNAL_ID, [r for _, _, r in batch], priority=self.priority
            ),
        )
        existing: list[str] = []
        for (unit, _, row), result in zip(rows, results, strict=True):
            if self._failed(unit, result, "upsert Account"):
                continue
            if result.created is False:
                existing.append(to_18(str(result.id)))  # an earlier attempt made it: adopt
            unit.account_id = to_18(str(result.id))
            self.remote.accounts[unit.account_id] = {"Id": unit.account_id, **row}
            assert unit.plan is not None  # noqa: S101 - rows come from planned units
            where = ("salesforce", "Account", unit.account_id)
            _log(unit, unit.plan, where, written=row, before={})
            unit.plan.salesforce.pop("Account", None)
        fields = ["Id", "AccountId"]
        await read_first_contacts(self.sf, existing, fields, self.priority, self.remote)

    async def update(self, units: list[Unit]) -> None:
        """Update each unit's Account and Contact, both objects in the same Collections calls."""
        rows: list[Row] = []
        for unit in units:
            if unit.contact_id is None and unit.account_id in self.remote.first_contact:
                unit.contact_id = to_18(self.remote.first_contact[unit.account_id]["Id"])
            for obj, ident in (("Account", unit.account_id), ("Contact", unit.contact_id)):
                changed = unit.plan.salesforce.get(obj) if unit.plan else None
                if changed and ident:
                    rows.append((unit, obj, {"Id": ident, **changed}))
        if not rows:
            return
        results = await self._call(
            rows,
            lambda batch: self.sf.update_mixed(
                [(o, r) for _, o, r in batch], priority=self.priority
            ),
        )
        for (unit, obj, row), result in zip(rows, results, strict=True):
            if not self._failed(unit, result, f"update {obj}"):
                assert unit.plan is not None  # noqa: S101 - rows come from planned units
                record_id = str(row.pop("Id"))
                known = self.remote.accounts if obj == "Account" else self.remote.contacts
                before = dict(known.get(record_id, {}))
                known.setdefault(record_id, {}).update(row)
                where = ("salesforce", obj, record_id)
                _log(unit, unit.plan, where, written=row, before=before)

    async def create_contacts(self, units: list[Unit]) -> None:
        """Give an Account that has no Contact one, when the client has a last name."""
        new = [
            u for u in units
            if u.error is None and u.contact_id is None and u.plan
            and (u.plan.salesforce.get("Contact") or {}).get("LastName")
        ]  # fmt: skip
        rows: list[Row] = [
            (
                u,
                "Contact",
                {"AccountId": u.account_id, **(u.plan.salesforce["Contact"] if u.plan else {})},
            )
            for u in new
        ]
        if not rows:
            return
        results = await self._call(
            rows,
            lambda batch: self.sf.create(
                "Contact", [r for _, _, r in batch], priority=self.priority
            ),
        )
        for (unit, _, row), result in zip(rows, results, strict=True):
            if not self._failed(unit, result, "create Contact"):
                unit.contact_id = to_18(str(result.id))
                self.remote.contacts[unit.contact_id] = {"Id": unit.contact_id, **row}
                assert unit.plan is not None  # noqa: S101 - rows come from planned units
                where = ("salesforce", "Contact", unit.contact_id)
                _log(unit, unit.plan, where, written=row, before={})

    async def _call(
        self, rows: list[Row], call: Callable[[list[Row]], Awaitable[Sequence[WriteResult]]]
    ) -> Sequence[WriteResult]:
        """Run batched calls for ``rows``: a failed call fails their units; refused fields wait."""
        if not rows:
            return []

        async def guarded(batch: list[Row]) -> Sequence[WriteResult]:
            try:
                return list(await call(batch))
            except FreshforceError as exc:
                for unit, _, _ in batch:
                    unit.error = exc
                return [_FAILED] * len(batch)

        return await write_refusing(rows, guarded)

    @staticmethod
    def _failed(unit: Unit, result: WriteResult, what: str) -> bool:
        if result is _FAILED or unit.error is not None:
            return True
        if result.success:
            return False
        if result.errors:
            unit.error = classify(400, result.errors[0], what=what)
        else:
            unit.error = PermanentError(f"Salesforce {what} failed without a reason")
        return True


class _Failed:
    success = False
    errors = ()
    id = None


_FAILED: Any = _Failed()


def _finish(flow: FlowMap, unit: Unit, remote: Remote) -> None:
    """Fill the unit's record: link, snapshot, keys and fingerprints of what both sides hold."""
    record = unit.record
    if unit.action is Action.UNLINK:
        record.forget = True
        return
    if unit.plan is None:
        return
    sides = sides_of(unit, remote, unit.fb_id, unit.account_id)
    park_refusals(flow, unit, sides)
    record.snapshot = Snapshot(unit.plan.snapshot, sides.freshbooks_modified, _newest(sides))
    keys = _keys(unit.plan.snapshot)
    if record.link is None and unit.fb_id and unit.account_id:
        record.new_link = NewLink(unit.fb_id, unit.account_id, unit.contact_id, keys=keys)
    else:
        record.keys = keys
    record.parked += [
        Parked(
            0, c.field, _json(c.base), _json(c.freshbooks), _json(c.salesforce),
            freshbooks_changed_at=sides.freshbooks_modified,
            salesforce_changed_at=sides.salesforce_modified.get(c.field.partition(".")[0]),
        )
        for c in unit.plan.parked
    ]  # fmt: skip
    if record.link is not None and unit.contact_id != record.link.salesforce_secondary_id:
        record.secondary = unit.contact_id
    if unit.plan.writes or record.new_link is not None:
        record.fingerprint("freshbooks", "client", unit.fb_id or "", unit.plan.snapshot)
        record.fingerprint("salesforce", "Account", unit.account_id or "", unit.plan.snapshot)
    else:
        record.probe = _probe(flow, unit, remote, sides)


def _probe(
    flow: FlowMap, unit: Unit, remote: Remote, sides: Sides
) -> tuple[str, str, str, dict[str, Any]]:
    """Return the state the job's own side shows now (an echo if a fingerprint matches)."""
    key = unit.jobs[0].key
    if key.startswith("freshbooks/"):
        view = fb_view_of(flow, dict(remote.clients.get(unit.fb_id or "", {})))
        return ("freshbooks", "client", unit.fb_id or "", view)
    return ("salesforce", "Account", unit.account_id or "", salesforce_view(flow, sides.salesforce))


def _newest(sides: Sides) -> Any:  # noqa: ANN401 - an aware datetime or None
    times = [t for t in sides.salesforce_modified.values() if t is not None]
    return max(times) if times else None


def _keys(snapshot: dict[str, Any]) -> frozenset[str]:
    found = {
        organisation_key(snapshot.get("Account.Name")),
        email_key(snapshot.get("Contact.Email")),
    }
    return frozenset(k for k in found if k)


def _log(
    unit: Unit,
    plan: Plan,
    where: tuple[str, str, str],
    *,
    written: dict[str, Any],
    before: dict[str, Any],
) -> None:
    system, obj, record_id = where
    for name, after in written.items():
        ref = f"{obj}.{name}" if system == "salesforce" else name
        trace = plan.traces.get(ref)
        unit.record.writes.append(
            FieldWrite(
                system, obj, record_id, name, _json(before.get(name)), _json(after),
                _json(trace.source_value) if trace else None, _steps(trace),
            )
        )  # fmt: skip


def _steps(trace: FieldTrace | None) -> list[dict[str, Any]]:
    if trace is None:
        return []
    head = {"rule": trace.rule, "line": trace.line, "from": list(trace.source_fields)}
    return [head, *({"step": name, "value": _json(value)} for name, value in trace.steps)]


def _json(value: Any) -> Any:  # noqa: ANN401 - a wire value made JSON-safe
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
