"""The clients flow: a FreshBooks client ↔ a Salesforce Account and its primary Contact.

A batch of jobs (keys ``freshbooks/client/<id>``, ``salesforce/Account/<id>``,
``salesforce/Contact/<id>`` or ``link/<id>``) becomes one unit per business record. The flow
reads the links and both sides for the whole batch, takes the match locks of each unit (so two
jobs about one business never run at once, linked or not), then per unit:

- linked and alive on both sides: the three-way merge (engine/twoway.py) and its writes;
- unlinked: match in the map's order (stored link, external id, e-mail, normalised name); one
  candidate links, none creates on the far side (an Account is upserted on its FreshBooks id;
  a FreshBooks client is recorded in the ledger before it is posted), several go to review as a
  dead letter listing them — never a guess;
- deleted, archived or merged on one side: the map's delete policy.

Writes are batched per object (Collections, 200 a call) and FreshBooks' one call per record;
a field whose value a side refuses is left out and parked for review while the rest of the
record syncs (clients_refused.py). Everything the unit learned is committed with its job's ack
(engine/syncstate.Record).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from freshforce.connectors.salesforce.governor import Priority
from freshforce.connectors.salesforce.ids import to_18
from freshforce.engine.batch import per_tenant
from freshforce.engine.flow import Outcome
from freshforce.engine.guard import PlannedWrite, WriteGuard
from freshforce.engine.retry import wait_delay
from freshforce.engine.syncstate import LinkState, Record, StoreState, load_state
from freshforce.errors import PermanentError, TransientError
from freshforce.flows.clients_plan import (
    CREATE_NEW,
    MATCH_HINT,
    Action,
    Unit,
    decide,
    review_choice,
)
from freshforce.flows.clients_read import (
    Remote,
    choose,
    find_freshbooks_candidates,
    find_salesforce_candidates,
    read_freshbooks,
    read_salesforce,
    refs_of,
)
from freshforce.flows.clients_write import write_units
from freshforce.store.matchlocks import job_holder, take_match_locks
from freshforce.store.scope import Scope

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from freshforce.engine.flow import FlowContext
    from freshforce.engine.pair import Pair, PairSource
    from freshforce.engine.queue import Job
    from freshforce.mapping import FlowMap

__all__ = ["ClientsFlow", "MatchBusyError"]

log = structlog.get_logger(__name__)


_DESTRUCTIVE = frozenset(
    {Action.ARCHIVE_FRESHBOOKS, Action.DELETE_FRESHBOOKS, Action.DELETE_SALESFORCE}
)
# A job waiting for another's match lock tries again after this (locks last one batch).
_LOCK_WAIT_SECONDS = 0.5


class MatchBusyError(TransientError):
    """Another job holds a match key of this record: this one waits its turn."""


@dataclass
class ClientsFlow:
    """The clients flow on the engine's batch contract."""

    map: FlowMap
    pairs: PairSource
    engine: AsyncEngine
    name: str = "clients"
    batch_size: int = 50
    priority: Priority = Priority.CLIENTS
    lock_seconds: float = 120.0
    guard: WriteGuard | None = None  # asked before deletes; None: the learning guard
    _units: list[Unit] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        if self.guard is None:
            from freshforce.assist.baseline import thresholds_of  # noqa: PLC0415 - a default only
            from freshforce.assist.guard import BaselineGuard  # noqa: PLC0415 - a default only

            self.guard = BaselineGuard(self.engine, thresholds_of(self.map.anomalies))

    async def run(self, jobs: Sequence[Job], ctx: FlowContext) -> list[Outcome]:
        async def work(pair: Pair, group: list[Job]) -> dict[int, Outcome]:
            return {o.job_id: o for o in await self._tenant(pair, group, ctx)}

        return await per_tenant(jobs, self.pairs, work)

    async def _tenant(self, pair: Pair, jobs: list[Job], ctx: FlowContext) -> list[Outcome]:
        scope = Scope(pair.tenant, self.name)
        units, refused = _units(jobs, scope)
        remote = Remote()
        await self._resolve(units, scope, pair, remote, ctx)
        units = _merge(units)
        await self._lock(units, scope, remote)
        await self._match(units, pair, remote)
        for unit in units:
            if unit.error is None:
                decide(self.map, unit, remote)
        await self._guard_deletes(scope, units)
        await write_units(
            self.map, units=units, pair=pair, remote=remote, engine=self.engine,
            priority=self.priority,
        )  # fmt: skip
        return refused + [outcome for unit in units for outcome in unit.outcomes()]

    async def _guard_deletes(self, scope: Scope, units: list[Unit]) -> None:
        """Ask the guard before each delete or archive; a held one does nothing (it waits)."""
        assert self.guard is not None  # noqa: S101 - set by __post_init__
        for unit in units:
            if unit.error is None and unit.action in _DESTRUCTIVE:
                write = PlannedWrite(scope.tenant, self.name, unit.jobs[0].key, "", delete=True)
                if (await self.guard.check(write)).held:
                    unit.action = Action.NOTHING

    async def _resolve(
        self, units: list[Unit], scope: Scope, pair: Pair, remote: Remote, ctx: FlowContext
    ) -> None:
        """Find each unit's link and read both sides of every unit."""
        sf = pair.salesforce
        refs = refs_of(self.map)
        loose = [u.contact_id for u in units if u.contact_id and not u.account_id]
        async with ctx.read() as db:
            state = await load_state(
                db,
                scope,
                freshbooks_ids=[u.fb_id for u in units if u.fb_id],
                salesforce_ids=[i for u in units for i in (u.account_id, u.contact_id) if i],
                link_ids=[u.link_id for u in units if u.link_id],
            )
        unlinked_contacts = [c for c in loose if c not in state.by_salesforce]
        if unlinked_contacts:
            await read_salesforce(
                sf, refs, accounts=(), contacts=unlinked_contacts, priority=self.priority,
                remote=remote,
            )  # fmt: skip
            parents = [remote.contacts[c].get("AccountId") for c in unlinked_contacts
                       if c in remote.contacts]  # fmt: skip
            async with ctx.read() as db:
                more = await load_state(db, scope, salesforce_ids=[to_18(p) for p in parents if p])
            for found in more.by_id.values():
                state.add(found)
        for unit in units:
            unit.attach(state, remote)
        await read_freshbooks(pair.freshbooks, [u.fb_id for u in units if u.fb_id], remote)
        await read_salesforce(
            sf, refs,
            accounts=[u.account_id for u in units if u.account_id],
            contacts=[u.contact_id for u in units if u.contact_id],
            priority=self.priority, remote=remote,
        )  # fmt: skip

    async def _lock(self, units: list[Unit], scope: Scope, remote: Remote) -> None:
        """Take each unit's match keys, or make it wait (retry) when another job holds one."""
        async with self.engine.begin() as db:
            for unit in units:
                holder = job_holder(unit.jobs[0].id)
                keys = unit.lock_keys(remote)
                if await take_match_locks(db, scope, keys, holder, ttl=self.lock_seconds):
                    unit.record.locks = (holder, keys)
                else:
                    unit.error = MatchBusyError(
                        f"another job is syncing {unit.describe()}; this one runs after it",
                        retry_after=wait_delay(unit.jobs[0].attempt, _LOCK_WAIT_SECONDS),
                    )
            relinked = await load_state(
                db,
                scope,
                freshbooks_ids=[u.fb_id for u in units if u.fb_id and u.state is None],
                salesforce_ids=[u.account_id for u in units if u.account_id and u.state is None],
            )
            now = await load_state(
                db, scope, link_ids=[u.state.link.id for u in units if u.state is not None]
            )
        for unit in units:
            if unit.state is None and unit.error is None and unit.linked_in(relinked):
                unit.error = MatchBusyError(
                    f"{unit.describe()} was linked meanwhile; syncing again"
                )
            elif unit.state is not None and unit.error is None and _moved(unit.state, now):
                # Another job synced it between our reads and our lock: both our snapshot and
                # our reads are stale, and merging them would take its writes for edits.
                unit.error = MatchBusyError(
                    f"{unit.describe()} was synced meanwhile; syncing again"
                )

    async def _match(self, units: list[Unit], pair: Pair, remote: Remote) -> None:
        """Find the partner of each unlinked unit: candidates from the far side."""
        from_fb = {
            u.fb_id: remote.clients[u.fb_id]
            for u in units
            if u.error is None and u.state is None and u.fb_id and u.fb_alive(remote)
            and review_choice(u.jobs) is None
        }  # fmt: skip
        candidates = await find_salesforce_candidates(
            pair.salesforce, from_fb, priority=self.priority
        )
        for unit in units:
            if unit.error is not None or unit.state is not None:
                continue
            choice = review_choice(unit.jobs)
            if choice is not None:  # a person answered an ambiguous match: no search
                if choice != CREATE_NEW:
                    unit.found = {MATCH_HINT: {to_18(choice) if unit.fb_id else choice}}
                continue
            if unit.fb_id in candidates:
                unit.found = candidates[unit.fb_id]
            elif unit.account_id and unit.account_id in remote.accounts:
                account = remote.accounts[unit.account_id]
                unit.found = await find_freshbooks_candidates(
                    pair.freshbooks, account, remote.first_contact.get(unit.account_id)
                )
        await self._read_candidates(units, pair, remote)
        for unit in units:
            if unit.error is None and unit.state is None and MATCH_HINT in unit.found:
                unit.error = _picked_gone(unit, remote)

    async def _read_candidates(self, units: list[Unit], pair: Pair, remote: Remote) -> None:
        """Drop candidates linked to another record; read the far side of the rest."""
        scope = Scope(units[0].record.scope.tenant, self.name) if units else None
        unlinked = [u for u in units if u.state is None and u.error is None]
        wanted_fb = {c for u in unlinked if not u.fb_id for s in u.found.values() for c in s}
        wanted_sf = {c for u in unlinked if u.fb_id for s in u.found.values() for c in s}
        if scope is None or not (wanted_fb or wanted_sf):
            return
        async with self.engine.connect() as db:
            taken = await load_state(db, scope, freshbooks_ids=wanted_fb, salesforce_ids=wanted_sf)
        linked = {*taken.by_freshbooks, *taken.by_salesforce}
        for unit in unlinked:
            order = [MATCH_HINT, *(str(m) for m in self.map.match)]
            unit.candidates = choose(order, unit.found, linked)
        await read_freshbooks(pair.freshbooks, wanted_fb - set(taken.by_freshbooks), remote)
        await read_salesforce(
            pair.salesforce, refs_of(self.map),
            accounts=wanted_sf - set(taken.by_salesforce), contacts=(),
            priority=self.priority, remote=remote,
        )  # fmt: skip


def _moved(read: LinkState, now: StoreState) -> bool:
    """Whether a link or its snapshot changed since ``read`` was loaded."""
    current = now.by_id.get(read.link.id)
    if current is None:
        return True
    ids = (read.link.freshbooks_id, read.link.salesforce_id, read.link.salesforce_secondary_id)
    moved = (current.link.freshbooks_id, current.link.salesforce_id,
             current.link.salesforce_secondary_id)  # fmt: skip
    fields = read.snapshot.fields if read.snapshot else None
    return ids != moved or fields != (current.snapshot.fields if current.snapshot else None)


def _picked_gone(unit: Unit, remote: Remote) -> PermanentError | None:
    """Refuse a reviewed match whose chosen record was linked elsewhere or deleted meanwhile."""
    [picked] = unit.found[MATCH_HINT]
    if unit.candidates != {picked}:
        why = "is linked to another record now"
    elif unit.fb_id and picked not in remote.accounts:
        why = "no longer exists in Salesforce"
    elif not unit.fb_id and remote.clients.get(picked, {}).get("vis_state", 1) != 0:
        why = "no longer exists (or is archived) in FreshBooks"
    else:
        return None
    return PermanentError(f"{unit.describe()}: the chosen match {picked} {why}; choose again")


def _merge(units: list[Unit]) -> list[Unit]:
    """Fold the units about one business record (two keys of one link) into the first."""
    kept: dict[str, Unit] = {}
    for unit in units:
        first = kept.setdefault(unit.identity(), unit)
        if first is not unit:
            first.jobs += unit.jobs
    return list(kept.values())


def _units(jobs: list[Job], scope: Scope) -> tuple[list[Unit], list[Outcome]]:
    """One unit per job key; a key this flow does not know fails its job with the reason."""
    units: list[Unit] = []
    refused: list[Outcome] = []
    for job in jobs:
        parts = job.key.split("/")
        unit = Unit(jobs=[job], record=Record(scope, job.id))
        match parts:
            case ["freshbooks", "client", ident] if ident.isdigit():
                unit.fb_id = ident
            case ["salesforce", "Account", ident] if ident != "*":
                unit.account_id = to_18(ident)
            case ["salesforce", "Contact", ident] if ident != "*":
                unit.contact_id = to_18(ident)
            case ["link", ident] if ident.isdigit():
                unit.link_id = int(ident)
            case ["salesforce", _, "*"]:
                refused.append(Outcome.skipped(job))
                log.info("clients_resync_requested", key=job.key, hint="run freshforce reconcile")
                continue
            case _:
                error = PermanentError(f"the clients flow cannot sync {job.key!r}")
                refused.append(Outcome.fail(job, error))
                continue
        units.append(unit)
    return units, refused
