"""The trace of one business record: its links and everything that happened to it, in time order.

``freshforce trace KEY`` and the dashboard's per-record timeline read this. Given a FreshBooks
id, a Salesforce id or an e-mail match key, it finds the record's links in every flow of the
tenant, then, by every id those links hold, the events (echoes dropped included), the jobs and
their attempts, the fields written and the conflicts. A FreshBooks id is unique per object only
(client 42 is not invoice 42): name the object, or the flow, to keep the others out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from freshforce.store.conflicts import Conflict, list_conflicts_of_links
from freshforce.store.links import Link, ids_of, links_by_row
from freshforce.store.schema import attempts, events, field_writes, jobs, link_keys, links
from freshforce.store.writelog import FieldWrite

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = [
    "Trace",
    "TraceEntry",
    "TraceQuery",
    "TracedAttempt",
    "TracedEvent",
    "TracedJob",
    "trace_record",
]


@dataclass(frozen=True)
class TraceQuery:
    """What to trace: one id or match key, optionally narrowed to a flow or FreshBooks object."""

    freshbooks_id: str | None = None
    freshbooks_object: str | None = None  # "client": keeps invoice 42 out of client 42's trace
    salesforce_id: str | None = None  # the 18-character form
    match_key: str | None = None  # "email:ann@acme.com" (engine/matchkey.py)
    flow: str | None = None


@dataclass(frozen=True)
class TracedEvent:
    """An event row: a change notification, or an echo a job dropped."""

    id: int
    at: datetime
    source: str  # webhook | cdc | poll | echo
    system: str
    object: str
    record_id: str | None
    payload: Any  # Any: the notification as received, JSON


@dataclass(frozen=True)
class TracedJob:
    """A job row about the record."""

    id: int
    at: datetime  # created
    flow: str
    key: str
    status: str
    attempts: int
    last_error: str | None
    updated_at: datetime


@dataclass(frozen=True)
class TracedAttempt:
    """One try of one of the record's jobs."""

    job_id: int
    attempt: int
    at: datetime  # started
    finished_at: datetime | None
    worker: str | None
    outcome: str | None
    error_class: str | None
    error_message: str | None


# The attempts columns in TracedAttempt's field order.
_ATTEMPT_COLUMNS = (
    "job_id",
    "attempt",
    "started_at",
    "finished_at",
    "worker",
    "outcome",
    "error_class",
    "error_message",
)


@dataclass(frozen=True)
class TraceEntry:
    """One line of the timeline: when, what kind, and the item itself."""

    at: datetime
    kind: str  # event | job | attempt | field_write | conflict
    item: TracedEvent | TracedJob | TracedAttempt | FieldWrite | Conflict


@dataclass(frozen=True)
class Trace:
    """Everything known about one business record, each part oldest first."""

    links: tuple[Link, ...]
    events: tuple[TracedEvent, ...]
    jobs: tuple[TracedJob, ...]
    attempts: tuple[TracedAttempt, ...]
    field_writes: tuple[FieldWrite, ...]
    conflicts: tuple[Conflict, ...]

    @property
    def timeline(self) -> tuple[TraceEntry, ...]:
        """All parts merged in time order (ties keep the order events → conflicts)."""
        entries = [
            *(TraceEntry(e.at, "event", e) for e in self.events),
            *(TraceEntry(j.at, "job", j) for j in self.jobs),
            *(TraceEntry(a.at, "attempt", a) for a in self.attempts),
            *(TraceEntry(w.at, "field_write", w) for w in self.field_writes if w.at),
            *(TraceEntry(c.created_at, "conflict", c) for c in self.conflicts),
        ]
        return tuple(sorted(entries, key=lambda entry: entry.at))


async def trace_record(db: AsyncConnection, tenant: str, query: TraceQuery) -> Trace:
    """Return the trace of the record ``query`` names in ``tenant``."""
    found = await _links(db, tenant, query)
    fb, sf = ids_of(found)
    fb |= {query.freshbooks_id} if query.freshbooks_id else set()
    sf |= {query.salesforce_id} if query.salesforce_id else set()
    traced_jobs = await _jobs(db, tenant, query, fb, sf)
    return Trace(
        links=tuple(found),
        events=await _events(db, tenant, query, fb, sf),
        jobs=traced_jobs,
        attempts=await _attempts(db, [j.id for j in traced_jobs]),
        field_writes=await _writes(db, tenant, [k.id for k in found], fb, sf),
        conflicts=tuple(await list_conflicts_of_links(db, tenant, [k.id for k in found])),
    )


async def _links(db: AsyncConnection, tenant: str, query: TraceQuery) -> list[Link]:
    by_key = sa.select(link_keys.c.link_id).where(link_keys.c.key == query.match_key)
    match = sa.or_(
        links.c.freshbooks_id == query.freshbooks_id,
        links.c.salesforce_id == query.salesforce_id,
        links.c.salesforce_secondary_id == query.salesforce_id,
        links.c.id.in_(by_key),
    )
    statement = sa.select(links).where(links.c.tenant == tenant, match)
    if query.flow:
        statement = statement.where(links.c.flow == query.flow)
    return links_by_row((await db.execute(statement.order_by(links.c.id))).all())


def _on_record(
    table: sa.Table, query: TraceQuery, fb: set[str], sf: set[str]
) -> sa.ColumnElement[bool]:
    fb_match = sa.and_(table.c.system == "freshbooks", table.c.record_id.in_(sorted(fb)))
    if query.freshbooks_object and "object" in table.c:
        fb_match = sa.and_(fb_match, table.c.object == query.freshbooks_object)
    sf_match = sa.and_(table.c.system == "salesforce", table.c.record_id.in_(sorted(sf)))
    return sa.or_(fb_match, sf_match)


async def _events(
    db: AsyncConnection, tenant: str, query: TraceQuery, fb: set[str], sf: set[str]
) -> tuple[TracedEvent, ...]:
    statement = (
        sa.select(events)
        .where(events.c.tenant == tenant, _on_record(events, query, fb, sf))
        .order_by(events.c.received_at, events.c.id)
    )
    return tuple(
        TracedEvent(r.id, r.received_at, r.source, r.system, r.object, r.record_id, r.payload)
        for r in (await db.execute(statement)).all()
    )


async def _jobs(
    db: AsyncConnection, tenant: str, query: TraceQuery, fb: set[str], sf: set[str]
) -> tuple[TracedJob, ...]:
    fb_prefix = f"freshbooks/{query.freshbooks_object}/" if query.freshbooks_object else None
    keys = [
        sa.and_(
            jobs.c.key.startswith(fb_prefix or "freshbooks/", autoescape=True),
            jobs.c.key.endswith(f"/{ident}", autoescape=True),
        )
        for ident in sorted(fb)
    ] + [
        sa.and_(
            jobs.c.key.startswith("salesforce/"),
            jobs.c.key.endswith(f"/{ident}", autoescape=True),
        )
        for ident in sorted(sf)
    ]
    if not keys:
        return ()
    statement = sa.select(jobs).where(jobs.c.tenant == tenant, sa.or_(*keys))
    if query.flow:
        statement = statement.where(jobs.c.flow == query.flow)
    rows = (await db.execute(statement.order_by(jobs.c.created_at, jobs.c.id))).all()
    return tuple(
        TracedJob(
            r.id, r.created_at, r.flow, r.key, r.status, r.attempts, r.last_error, r.updated_at
        )
        for r in rows
    )


async def _attempts(db: AsyncConnection, job_ids: Sequence[int]) -> tuple[TracedAttempt, ...]:
    if not job_ids:
        return ()
    statement = (
        sa.select(*(attempts.c[name] for name in _ATTEMPT_COLUMNS))
        .where(attempts.c.job_id.in_(job_ids))
        .order_by(attempts.c.started_at, attempts.c.id)
    )
    return tuple(TracedAttempt(*row) for row in (await db.execute(statement)).all())


async def _writes(
    db: AsyncConnection, tenant: str, link_ids: Sequence[int], fb: set[str], sf: set[str]
) -> tuple[FieldWrite, ...]:
    on_record = _on_record(field_writes, TraceQuery(), fb, sf)
    statement = (
        sa.select(field_writes)
        .where(
            field_writes.c.tenant == tenant,
            sa.or_(field_writes.c.link_id.in_(link_ids), on_record),
        )
        .order_by(field_writes.c.at, field_writes.c.id)
    )
    names = [f.name for f in fields(FieldWrite)]
    return tuple(
        FieldWrite(**{name: r._mapping[name] for name in names} | {"trace": tuple(r.trace)})  # noqa: SLF001 - public row mapping
        for r in (await db.execute(statement)).all()
    )
