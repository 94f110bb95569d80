"""The one commit of change capture: lease, raw events, reconcile jobs and cursor together.

Every source (the pollers, the CDC subscriber, and the FreshBooks webhook endpoint) hands what it
read to :func:`commit`, which writes it in ONE transaction: the stream's lease is renewed first
(a lost lease raises ``LeaseLostError`` and nothing commits), then the raw events are recorded,
the "reconcile KEY for FLOW" jobs enqueued (coalesced by the queue), and the cursor saved. A
cursor therefore never runs ahead of the work it covers, and this is the only place intake
enqueues: a change of the queue's API is made here once.

A webhook delivery carries no cursor and holds no lease: it commits with ``keeper=None``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from freshforce.store.cursors import save_cursor
from freshforce.store.events import NewEvent, record_events

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from freshforce.engine.queue import JobQueue, JobRequest
    from freshforce.intake.lease import LeaseKeeper
    from freshforce.intake.stream import Cursor

__all__ = ["Batch", "commit"]


@dataclass(frozen=True)
class Batch:
    """What one step of a source stores: raw events, the jobs they call for, the new cursor."""

    events: Sequence[NewEvent] = ()
    jobs: Sequence[JobRequest] = ()
    cursor: Cursor | None = None


async def commit(
    engine: AsyncEngine,
    queue: JobQueue,
    batch: Batch,
    *,
    keeper: LeaseKeeper | None,
    now: datetime,
) -> None:
    """Store ``batch`` in one transaction, fenced by ``keeper``'s lease when given."""
    if batch.cursor is not None and keeper is None:
        msg = "a cursor belongs to a leased stream: pass its LeaseKeeper"
        raise ValueError(msg)
    async with engine.begin() as db:
        if keeper is not None:
            await keeper.renew(db)
        if batch.events:
            await record_events(db, batch.events, now=now)
        if batch.jobs:
            await queue.enqueue_many(db, batch.jobs)
        if batch.cursor is not None and keeper is not None:
            stream = keeper.stream
            await save_cursor(db, stream.connection_id, stream.name, batch.cursor.dump(), now=now)
