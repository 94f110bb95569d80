"""The one commit of change capture: lease, raw events, reconcile jobs and cursor together.

Every source (the pollers, the CDC subscriber, and the FreshBooks webhook endpoint) hands what it
read to :func:`commit`, which writes it in ONE transaction: the stream's lease is renewed first
(a lost lease raises ``LeaseLostError`` and nothing commits), then the raw events are recorded,
the "reconcile KEY for FLOW" jobs enqueued (coalesced by the queue), and the cursor saved. A
cursor therefore never runs ahead of the work it covers, and this is the only place intake
enqueues: a change of the queue's API is made here once.

A webhook delivery carries no cursor and holds no lease: it commits with ``keeper=None``.

Events and jobs are recorded under the tenant of the connection they came from: the leased
stream's connection (looked up in the same transaction), or ``tenant`` for a webhook delivery,
whose route knows its connection. The worker then runs each job with that tenant's pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from freshforce.store.cursors import save_cursor
from freshforce.store.events import NewEvent, record_events
from freshforce.store.schema import connections

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

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
    tenant: str | None = None,
) -> None:
    """Store ``batch`` in one transaction, fenced by ``keeper``'s lease when given.

    The events and jobs are stamped with ``tenant``, else with the tenant of ``keeper``'s
    connection when it is stored, else kept as they are.
    """
    if batch.cursor is not None and keeper is None:
        msg = "a cursor belongs to a leased stream: pass its LeaseKeeper"
        raise ValueError(msg)
    async with engine.begin() as db:
        if keeper is not None:
            await keeper.renew(db)
            if tenant is None:
                tenant = await _tenant_of(db, keeper.stream.connection_id)
        if tenant is not None:
            batch = _stamped(batch, tenant)
        if batch.events:
            await record_events(db, batch.events, now=now)
        if batch.jobs:
            await queue.enqueue_many(db, batch.jobs)
        if batch.cursor is not None and keeper is not None:
            stream = keeper.stream
            await save_cursor(db, stream.connection_id, stream.name, batch.cursor.dump(), now=now)


async def _tenant_of(db: AsyncConnection, connection_id: str) -> str | None:
    query = sa.select(connections.c.tenant).where(connections.c.id == connection_id)
    found = (await db.execute(query)).scalar_one_or_none()
    return None if found is None else str(found)


def _stamped(batch: Batch, tenant: str) -> Batch:
    return Batch(
        [e if e.tenant == tenant else replace(e, tenant=tenant) for e in batch.events],
        [j if j.tenant == tenant else replace(j, tenant=tenant) for j in batch.jobs],
        batch.cursor,
    )
