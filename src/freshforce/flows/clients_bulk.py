"""The clients flow over whole systems: the first link-up (``sync --initial``) and ``reconcile``.

Both read everything once — FreshBooks clients 100 to a page, Accounts and Contacts 2,000 to a
SOQL page — and work in memory. The first sync matches every unlinked record with the same
strategies, in the same order, as a job would (external id, e-mail, normalised name), then
plans and performs the writes through the same units as the flow: Salesforce writes go in
Collections calls or, above 2,000 records, Bulk API 2.0 jobs. Its dry run is that plan,
counted; applying it performs exactly that plan. Re-running after a kill continues: what was
linked is skipped, an Account created but not linked is found again by its external id.

Reconcile compares every link's two records against its snapshot and reports drift per object:
records gone, fields that differ, records on either side without a link. ``repair`` enqueues the
jobs that fix each one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from freshforce.connectors.salesforce.governor import Priority
from freshforce.connectors.salesforce.ids import to_18
from freshforce.engine.matchkey import email_key, organisation_key
from freshforce.engine.queue import JobRequest
from freshforce.engine.settle import link_key
from freshforce.engine.syncstate import LinkState, Record, StoreState
from freshforce.engine.twoway import plan_sync
from freshforce.flows.clients_plan import Action, Unit, decide, sides_of
from freshforce.flows.clients_read import (
    CLIENTS,
    EMAIL,
    EXTERNAL,
    EXTERNAL_ID,
    ORGANISATION,
    Found,
    Remote,
    choose,
    fields_of,
    refs_of,
)
from freshforce.flows.clients_write import write_units
from freshforce.store.drift import record_reconcile
from freshforce.store.links import all_links
from freshforce.store.scope import Scope
from freshforce.store.snapshots import load_snapshots

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from freshforce.engine.pair import Pair
    from freshforce.engine.queue import JobQueue
    from freshforce.mapping import FlowMap

__all__ = [
    "Drift",
    "FirstSync",
    "FirstSyncPlan",
    "apply_initial",
    "plan_initial",
    "read_everything",
    "reconcile",
]

Progress = Callable[[str, int], None]  # (what, how many more) for a progress bar
_COMMIT_EVERY = 500
_SAMPLE = 5


@dataclass
class FirstSync:
    """What a first sync links, creates and updates (predicted by a dry run, or done)."""

    counts: Counter[str] = field(default_factory=Counter)
    samples: dict[str, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def note(self, what: str, sample: str) -> None:
        self.counts[what] += 1
        kept = self.samples.setdefault(what, [])
        if len(kept) < _SAMPLE:
            kept.append(sample)


@dataclass
class Drift:
    """What reconcile found, per object: missing links, gone records, differing fields."""

    counts: Counter[str] = field(default_factory=Counter)
    samples: dict[str, list[str]] = field(default_factory=dict)
    repairs: list[JobRequest] = field(default_factory=list)

    def note(self, what: str, sample: str, repair: JobRequest) -> None:
        self.counts[what] += 1
        self.samples.setdefault(what, [])
        if len(self.samples[what]) < _SAMPLE:
            self.samples[what].append(sample)
        self.repairs.append(repair)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


async def read_everything(flow: FlowMap, pair: Pair, *, progress: Progress | None = None) -> Remote:
    """Read every active client, Account and Contact (each Account's oldest is its primary)."""
    remote = Remote()
    tick = progress or (lambda _what, _n: None)
    async for page in pair.freshbooks.list_all(CLIENTS):
        for record in page.records:
            remote.clients[str(record.id)] = dict(record.raw)
            remote.client_updated[str(record.id)] = record.updated
        tick("FreshBooks clients read", len(page.records))
    refs = refs_of(flow)
    sf = pair.salesforce
    soql = f"SELECT {', '.join(fields_of(refs, 'Account'))} FROM Account"  # noqa: S608 - names checked by the map
    async for records in sf.query_pages(soql, priority=Priority.BACKFILL):
        for account in records:
            remote.accounts[to_18(account["Id"])] = account
        tick("Accounts read", len(records))
    contact_fields = ", ".join(fields_of(refs, "Contact"))
    soql = f"SELECT {contact_fields} FROM Contact ORDER BY CreatedDate, Id"  # noqa: S608 - same
    async for records in sf.query_pages(soql, priority=Priority.BACKFILL):
        for contact in records:
            remote.contacts[to_18(contact["Id"])] = contact
            if contact.get("AccountId"):
                remote.first_contact.setdefault(to_18(contact["AccountId"]), contact)
        tick("Contacts read", len(records))
    return remote


async def _links(engine: AsyncEngine, scope: Scope) -> StoreState:
    async with engine.connect() as db:
        found = await all_links(db, scope)
        snapshots = await load_snapshots(db, [k.id for k in found])
    state = StoreState()
    for link in found:
        state.add(LinkState(link, snapshots.get(link.id), {}, {}))
    return state


def _indices(remote: Remote) -> tuple[dict[str, Found], dict[str, Found]]:
    """Index both sides by external id, e-mail and normalised name for matching in memory."""
    by_fb: dict[str, Found] = {}
    accounts_by = _accounts_by_key(remote)
    clients_by: dict[str, set[str]] = {}
    for fb_id, client in remote.clients.items():
        for key in (email_key(client.get("email")), organisation_key(client.get("organization"))):
            if key:
                clients_by.setdefault(key, set()).add(fb_id)
        by_fb[fb_id] = {
            EXTERNAL: accounts_by.get(f"x:{fb_id}", set()),
            EMAIL: accounts_by.get(email_key(client.get("email")) or "", set()),
            ORGANISATION: accounts_by.get(
                organisation_key(client.get("organization")) or "", set()
            ),
        }
    by_account: dict[str, Found] = {}
    for account_id, account in remote.accounts.items():
        contact = remote.first_contact.get(account_id) or {}
        external = str(account.get(EXTERNAL_ID) or "")
        by_account[account_id] = {
            EXTERNAL: {external} if external in remote.clients else set(),
            EMAIL: clients_by.get(email_key(contact.get("Email")) or "", set()),
            ORGANISATION: clients_by.get(organisation_key(account.get("Name")) or "", set()),
        }
    return by_fb, by_account


def _accounts_by_key(remote: Remote) -> dict[str, set[str]]:
    """Index Accounts by ``x:<external id>``, normalised name and their Contacts' e-mails."""
    found: dict[str, set[str]] = {}
    for account_id, account in remote.accounts.items():
        keys = (
            f"x:{account[EXTERNAL_ID]}" if account.get(EXTERNAL_ID) else None,
            organisation_key(account.get("Name")),
        )
        for key in keys:
            if key:
                found.setdefault(key, set()).add(account_id)
    for contact in remote.contacts.values():
        key = email_key(contact.get("Email"))
        if key and contact.get("AccountId"):
            found.setdefault(key, set()).add(to_18(contact["AccountId"]))
    return found


def plan_first_sync(flow: FlowMap, remote: Remote, state: StoreState, scope: Scope) -> list[Unit]:
    """Return a decided unit for every unlinked record of either side."""
    by_fb, by_account = _indices(remote)
    order = [str(m) for m in flow.match]
    taken: set[str] = {*state.by_freshbooks, *state.by_salesforce}
    units: list[Unit] = []
    for fb_id in sorted(remote.clients, key=int):
        client = remote.clients[fb_id]
        if fb_id in state.by_freshbooks or int(client.get("vis_state") or 0) != 0:
            continue
        unit = Unit(jobs=[], record=Record(scope, None), fb_id=fb_id)
        unit.candidates = choose(order, by_fb[fb_id], taken)
        decide(flow, unit, remote)
        if unit.account_id:
            taken.update({fb_id, unit.account_id})
        units.append(unit)
    for account_id in sorted(remote.accounts):
        if account_id in taken:
            continue
        unit = Unit(jobs=[], record=Record(scope, None), account_id=account_id)
        unit.candidates = choose(order, by_account[account_id], taken)
        decide(flow, unit, remote)
        if unit.fb_id:
            taken.update({unit.fb_id, account_id})
        units.append(unit)
    return units


def _count(units: Iterable[Unit], remote: Remote) -> FirstSync:
    report = FirstSync()
    for unit in units:
        name = _name(unit, remote)
        if unit.error is not None:
            report.note("review", f"{name}: {unit.error}")
            report.errors.append(str(unit.error))
            continue
        if unit.action is Action.CREATE_SALESFORCE:
            report.note("create in Salesforce", name)
        elif unit.action is Action.CREATE_FRESHBOOKS:
            report.note("create in FreshBooks", name)
        elif unit.action is Action.SYNC and unit.plan is not None:
            report.note("link", name)
            if unit.plan.salesforce:
                report.note("update in Salesforce", name)
            if unit.plan.freshbooks:
                report.note("update in FreshBooks", name)
    return report


@dataclass
class FirstSyncPlan:
    """A first sync, decided: one unit per unlinked record, and what they will do."""

    flow: FlowMap
    pair: Pair
    units: list[Unit]
    remote: Remote
    report: FirstSync


async def plan_initial(
    flow: FlowMap,
    pair: Pair,
    engine: AsyncEngine,
    *,
    tenant: str,
    progress: Progress | None = None,
) -> FirstSyncPlan:
    """Read both systems and decide the first sync (the dry run is this plan's report)."""
    scope = Scope(tenant, "clients")
    remote = await read_everything(flow, pair, progress=progress)
    units = plan_first_sync(flow, remote, await _links(engine, scope), scope)
    return FirstSyncPlan(flow, pair, units, remote, _count(units, remote))


async def apply_initial(
    plan: FirstSyncPlan, engine: AsyncEngine, *, progress: Progress | None = None
) -> FirstSync:
    """Perform the plan's writes and store its links and snapshots; return what was done."""
    flow, pair, units, remote = plan.flow, plan.pair, plan.units, plan.remote
    await write_units(
        flow, units=units, pair=pair, remote=remote, engine=engine, priority=Priority.BACKFILL
    )
    done = [u for u in units if u.error is None]
    for start in range(0, len(done), _COMMIT_EVERY):
        async with engine.begin() as db:
            for unit in done[start : start + _COMMIT_EVERY]:
                await unit.record(db)
        if progress is not None:
            progress("records stored", len(done[start : start + _COMMIT_EVERY]))
    result = _count(units, remote)
    result.errors = [str(u.error) for u in units if u.error is not None]
    return result


async def reconcile(
    flow: FlowMap,
    pair: Pair,
    engine: AsyncEngine,
    *,
    tenant: str,
    queue: JobQueue | None = None,
) -> Drift:
    """Compare both sides for every link; with ``queue``, enqueue the repairs.

    The result is recorded (store/drift.py) for the dashboard's overview.
    """
    scope = Scope(tenant, "clients")
    remote = await read_everything(flow, pair)
    state = await _links(engine, scope)
    drift = Drift()

    def job(key: str) -> JobRequest:
        hint = {"source": "reconcile"}
        return JobRequest("clients", key, (hint,), priority=Priority.BACKFILL, tenant=tenant)

    for link_id, linked in sorted(state.by_id.items()):
        _link_drift(flow, linked, remote, drift, job(link_key(link_id)))
    for fb_id, client in sorted(remote.clients.items()):
        if fb_id not in state.by_freshbooks and int(client.get("vis_state") or 0) == 0:
            drift.note("client without a link", _label(client), job(f"freshbooks/client/{fb_id}"))
    for account_id, account in sorted(remote.accounts.items()):
        if account_id not in state.by_salesforce:
            name = str(account.get("Name"))
            drift.note("Account without a link", name, job(f"salesforce/Account/{account_id}"))
    async with engine.begin() as db:
        if queue is not None and drift.repairs:
            await queue.enqueue_many(db, drift.repairs)
        await record_reconcile(
            db, tenant=tenant, flow="clients", counts=drift.counts, samples=drift.samples,
            repairs=len(drift.repairs) if queue is not None else 0, now=datetime.now(UTC),
        )  # fmt: skip
    return drift


def _link_drift(
    flow: FlowMap, linked: LinkState, remote: Remote, drift: Drift, repair: JobRequest
) -> None:
    link = linked.link
    fb_id, account_id = link.freshbooks_id or "", link.salesforce_id or ""
    if fb_id not in remote.clients:
        drift.note("client gone", f"client {fb_id}", repair)
        return
    if account_id not in remote.accounts:
        drift.note("Account gone", f"Account {account_id}", repair)
        return
    unit = Unit(jobs=[], record=Record(Scope(link.tenant, link.flow), None))
    unit.contact_id = link.salesforce_secondary_id
    base = linked.snapshot.fields if linked.snapshot else None
    plan = plan_sync(flow, sides_of(unit, remote, fb_id, account_id), base)
    differing = sorted(
        {*(f"{o}.{n}" for o, v in plan.salesforce.items() for n in v), *plan.freshbooks}
    )
    if differing:
        name = _label(remote.clients[fb_id])
        drift.note("fields differ", f"{name}: {', '.join(differing)}", repair)


def _name(unit: Unit, remote: Remote) -> str:
    if unit.fb_id and unit.fb_id in remote.clients:
        return _label(remote.clients[unit.fb_id])
    account: dict[str, Any] = remote.accounts.get(unit.account_id or "", {})
    return str(account.get("Name") or unit.account_id)


def _label(client: dict[str, Any]) -> str:
    name = client.get("organization") or f"{client.get('fname') or ''} {client.get('lname') or ''}"
    return f"{str(name).strip()} (client {client.get('id')})"
