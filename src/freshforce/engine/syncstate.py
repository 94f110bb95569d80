"""What the store knows about a batch's records, and the effects that record a sync of one.

:func:`load_state` reads, in one read transaction and a handful of queries for the whole
batch, the links holding any of the batch's ids, their snapshots, their open conflicts and the
conflicts settled since their last sync. :class:`Record` gathers the effects of one job — the
link made or moved, the snapshot, the fingerprints of what was written, the write log, parked
conflicts, refused fields that synced (closed), the ledger and the match locks to release — as
one engine ``Effect`` committed with the job's ack.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from freshforce.engine.fingerprint import fingerprint
from freshforce.errors import TransientError
from freshforce.store.conflicts import (
    Conflict,
    Parked,
    close_fixed,
    open_conflicts,
    park_conflict,
    settled_conflicts,
)
from freshforce.store.fingerprints import Written, consume_fingerprint, record_fingerprints
from freshforce.store.idempotency import CreateRef, complete_create
from freshforce.store.linking import (
    NewLink,
    create_link,
    move_link,
    set_link_keys,
    unlink,
    update_link,
)
from freshforce.store.links import Link, find_links, get_link
from freshforce.store.matchlocks import release_match_locks
from freshforce.store.snapshots import Snapshot, load_snapshots, save_snapshot
from freshforce.store.writelog import Echo, FieldWrite, record_echoes, record_field_writes

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from freshforce.store.scope import Scope

__all__ = ["LinkState", "LockLostError", "Record", "StoreState", "load_state"]


class LockLostError(TransientError):
    """A match lock expired while the job ran; another job may have linked the record."""


@dataclass(frozen=True)
class LinkState:
    """One link with its snapshot and its conflicts."""

    link: Link
    snapshot: Snapshot | None
    held: Mapping[str, Conflict]  # open conflicts by field
    resolved: Mapping[str, Any]  # fields settled since the last sync → chosen value


@dataclass
class StoreState:
    """The links of a batch, found by either side's id or by link id."""

    by_freshbooks: dict[str, LinkState] = field(default_factory=dict)
    by_salesforce: dict[str, LinkState] = field(default_factory=dict)
    by_id: dict[int, LinkState] = field(default_factory=dict)

    def add(self, state: LinkState) -> None:
        link = state.link
        self.by_id[link.id] = state
        if link.freshbooks_id:
            self.by_freshbooks[link.freshbooks_id] = state
        for sf in (link.salesforce_id, link.salesforce_secondary_id):
            if sf:
                self.by_salesforce[sf] = state


async def load_state(
    db: AsyncConnection,
    scope: Scope,
    *,
    freshbooks_ids: Iterable[str] = (),
    salesforce_ids: Iterable[str] = (),
    link_ids: Iterable[int] = (),
) -> StoreState:
    """Return the links of the ids with their snapshots and conflicts (four queries)."""
    found = await find_links(
        db, scope, freshbooks_ids=freshbooks_ids, salesforce_ids=salesforce_ids
    )
    known = {k.id for k in found}
    for link_id in sorted(set(link_ids) - known):
        link = await get_link(db, scope, link_id)
        if link is not None:
            found.append(link)
    ids = [k.id for k in found]
    snapshots = await load_snapshots(db, ids)
    held = await open_conflicts(db, scope, ids)
    settled = await settled_conflicts(db, scope, ids)
    state = StoreState()
    for link in found:
        snap = snapshots.get(link.id)
        since = snap.synced_at if snap else None
        resolved = {
            c.parked.field: c.resolved_value
            for c in settled.get(link.id, ())
            if since is None or (c.resolved_at is not None and c.resolved_at >= since)
        }
        state.add(LinkState(link, snap, held.get(link.id, {}), resolved))
    return state


@dataclass
class Record:
    """Everything one job's sync records locally, committed with its ack."""

    scope: Scope
    job_id: int | None  # None: a first sync's record, made by no job
    link: Link | None = None
    new_link: NewLink | None = None
    snapshot: Snapshot | None = None
    keys: frozenset[str] | None = None
    parked: list[Parked] = field(default_factory=list)
    fixed: dict[str, Any] = field(default_factory=dict)  # refused fields now synced → value
    writes: list[FieldWrite] = field(default_factory=list)
    written: list[Written] = field(default_factory=list)
    echoes: list[Echo] = field(default_factory=list)
    created: list[tuple[CreateRef, str]] = field(default_factory=list)
    moved: tuple[str, str] | None = None  # (old, new) Salesforce id after a merge
    forget: bool = False  # unlink
    locks: tuple[str, frozenset[str]] | None = None  # (holder, keys) to release
    secondary: str | None = None  # the link's new secondary id (a Contact created or adopted)
    extra_ids: Mapping[str, str] | None = None  # the link's new extra ids
    # The state the job's own side shows, when nothing was written: an echo if it matches.
    probe: tuple[str, str, str, Mapping[str, Any]] | None = None

    def fingerprint(self, system: str, obj: str, record_id: str, view: Mapping[str, Any]) -> None:
        """Remember the fingerprint of ``view`` as written to ``system``'s record."""
        self.written.append(Written(system, obj, record_id, fingerprint(view)))

    async def __call__(self, db: AsyncConnection) -> None:
        """Record it all in ``db`` (the engine's commit transaction)."""
        scope = self.scope
        if self.locks is not None:
            holder, keys = self.locks
            if not await release_match_locks(db, scope, keys, holder):
                msg = "a match lock expired while the job ran; it will run again"
                raise LockLostError(msg)
        if self.moved is not None:
            old, new = self.moved
            await move_link(db, scope, old_salesforce_id=old, new_salesforce_id=new)
        link = await self._link(db)
        if link is not None:
            await self._link_state(db, link)
        link_id = link.id if link is not None else None
        writes = [_with(w, link_id, self.job_id) for w in self.writes]
        await record_field_writes(db, scope, writes)
        await record_fingerprints(db, scope.tenant, self.written)
        await self._echo(db)
        await record_echoes(db, scope, self.echoes)
        for ref, remote_id in self.created:
            await complete_create(db, scope.tenant, ref, remote_id)

    async def _link(self, db: AsyncConnection) -> Link | None:
        """Make, change or forget the link; return it as it stands after."""
        link = self.link
        if self.new_link is not None:
            link = await create_link(db, self.scope, self.new_link)
            if link is None:
                msg = "another job linked one of these records first; it will run again"
                raise LockLostError(msg)
        if link is not None and self.forget:
            await unlink(db, self.scope, link.id)
            return None
        if link is not None and (self.secondary is not None or self.extra_ids is not None):
            changed = await update_link(
                db,
                link,
                salesforce_secondary_id=self.secondary or link.salesforce_secondary_id,
                extra_ids=link.extra_ids if self.extra_ids is None else self.extra_ids,
            )
            link = changed or link
        return link

    async def _link_state(self, db: AsyncConnection, link: Link) -> None:
        if self.snapshot is not None:
            await save_snapshot(db, link.id, self.snapshot)
        if self.keys is not None and self.new_link is None:
            await set_link_keys(db, {link.id: self.keys})
        if self.fixed:
            await close_fixed(db, self.scope, link.id, self.fixed)
        for parked in self.parked:
            await park_conflict(db, self.scope, _on(parked, link.id))

    async def _echo(self, db: AsyncConnection) -> None:
        if self.probe is None:
            return
        system, obj, record_id, view = self.probe
        seen = Written(system, obj, record_id, fingerprint(view))
        if self.job_id is not None and await consume_fingerprint(db, self.scope.tenant, seen):
            self.echoes.append(Echo(system, obj, record_id, self.job_id, seen.fingerprint))


def _on(parked: Parked, link_id: int) -> Parked:
    values = {name: getattr(parked, name) for name in parked.__dataclass_fields__}
    return Parked(**(values | {"link_id": link_id}))


def _with(write: FieldWrite, link_id: int | None, job_id: int | None) -> FieldWrite:
    values = {name: getattr(write, name) for name in write.__dataclass_fields__}
    return FieldWrite(**(values | {"link_id": link_id, "job_id": job_id}))
