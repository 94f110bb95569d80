"""Salesforce poller: finds changed records by SystemModstamp for orgs without change data capture.

Each page of ``SystemModstamp >= watermark - overlap ORDER BY SystemModstamp, Id`` is stored by
ONE :func:`~freshforce.intake.commit.commit`: a raw event per record, a coalesced "reconcile
salesforce/OBJ/ID for FLOW" job, the advanced cursor and a lease renewal. The overlap re-reads
changes whose transaction committed after a later stamp was already seen; (Id, SystemModstamp)
pairs inside the overlap are remembered in the cursor and dropped when read again, so a quiet
org produces no work at all.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from freshforce.connectors.salesforce.client import LocatorLostError, SalesforceClient
from freshforce.connectors.salesforce.governor import Priority
from freshforce.connectors.salesforce.ids import to_18
from freshforce.connectors.salesforce.soql import modstamp_poll
from freshforce.engine.queue import JobQueue, JobRequest
from freshforce.intake.commit import Batch, commit
from freshforce.intake.lease import LeaseKeeper
from freshforce.intake.poll_result import PollResult
from freshforce.intake.stream import Cursor, Stream
from freshforce.store.events import NewEvent

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from freshforce.clock import Clock

__all__ = ["PollTarget", "SalesforcePoller", "advance", "parse_datetime"]

# A record as Salesforce sends it: a JSON object.
Record = dict[str, Any]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
log = structlog.get_logger("freshforce.intake.salesforce_poller")
_LOCATOR_RESTARTS = 2


def parse_datetime(value: str) -> datetime:
    """Parse Salesforce's ``2013-05-20T20:49:32.000+0000`` into an aware UTC datetime."""
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(UTC)


@dataclass(frozen=True)
class PollTarget:
    """One sObject polled for one flow, with the fields kept on the raw event."""

    sobject: str
    flow: str
    fields: tuple[str, ...] = ()
    priority: Priority = Priority.CLIENTS

    @property
    def stream(self) -> str:
        return f"salesforce/poll/{self.sobject}/{self.flow}"


def advance(cursor: Cursor, records: Sequence[Record], overlap: timedelta) -> Cursor:
    """Move past ``records`` and forget (Id, SystemModstamp) pairs that left the overlap."""
    stamps = [parse_datetime(r["SystemModstamp"]) for r in records]
    since = max([datetime.fromisoformat(cursor.position), *stamps])
    keep_from = since - overlap
    pairs = cursor.seen | {(to_18(r["Id"]), r["SystemModstamp"]) for r in records}
    kept = frozenset(p for p in pairs if parse_datetime(p[1]) >= keep_from)
    return Cursor(since.isoformat(), kept)


class SalesforcePoller:
    """Polls targets of one connection; each page commits events, jobs and cursor together."""

    def __init__(
        self,
        client: SalesforceClient,
        engine: AsyncEngine,
        queue: JobQueue,
        *,
        connection_id: str,
        clock: Clock,
        overlap: timedelta = timedelta(minutes=2),
        start: datetime = _EPOCH,
        page_size: int = 2000,
        holder: str | None = None,
        lease_ttl: timedelta = timedelta(seconds=60),
    ) -> None:
        self.client = client
        self.engine = engine
        self.queue = queue
        self.connection_id = connection_id
        self.clock = clock
        self.overlap = overlap
        self.start = start
        self.page_size = page_size
        # Who this poller is in the lease table; unique per instance unless a caller names it.
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease_ttl = lease_ttl

    def keeper(self, target: PollTarget) -> LeaseKeeper:
        """Return the keeper of the lease that makes this the only poller of ``target``."""
        return LeaseKeeper(
            self.engine,
            Stream(self.connection_id, target.stream),
            holder=self.holder,
            ttl=self.lease_ttl,
            clock=self.clock,
        )

    async def release(self, target: PollTarget) -> None:
        """Give up ``target``'s lease (on shutdown)."""
        await self.keeper(target).release()

    async def poll(self, target: PollTarget) -> PollResult | None:
        """Read everything changed since the stored cursor and store it page by page.

        Returns ``None`` without reading when another poller holds the stream's lease. A token
        refresh mid-read kills the query cursor; the poll then goes on from the cursor it has
        committed so far. A lost lease raises ``LeaseLostError`` and that page commits nothing.
        """
        keeper = self.keeper(target)
        if not await keeper.acquire():
            log.info("poll_skipped_lease_held", stream=target.stream, lease=keeper.name)
            return None
        return await keeper.guard(self._poll(target, keeper))

    async def _poll(self, target: PollTarget, keeper: LeaseKeeper) -> PollResult:
        pages = read = new = 0
        watermark = self.start
        for restart in range(_LOCATOR_RESTARTS + 1):
            try:
                async for page_read, page_new, cursor in self._pages(target, keeper):
                    pages, read, new = pages + 1, read + page_read, new + page_new
                    watermark = datetime.fromisoformat(cursor.position)
            except LocatorLostError:
                if restart == _LOCATOR_RESTARTS:
                    raise
            else:
                break
        return PollResult(target.stream, pages, read, new, watermark)

    async def _pages(
        self, target: PollTarget, keeper: LeaseKeeper
    ) -> AsyncIterator[tuple[int, int, Cursor]]:
        async with self.engine.connect() as conn:
            cursor = await keeper.stream.load_cursor(conn) or Cursor(self.start.isoformat())
        since = datetime.fromisoformat(cursor.position)
        soql = modstamp_poll(target.sobject, target.fields, since - self.overlap)
        pages = self.client.query_pages(soql, priority=target.priority, batch_size=self.page_size)
        async for page in pages:
            fresh = [r for r in page if (to_18(r["Id"]), r["SystemModstamp"]) not in cursor.seen]
            cursor = advance(cursor, page, self.overlap)
            await commit(
                self.engine, self.queue, self._batch(target, fresh, cursor),
                keeper=keeper, now=self.clock(),
            )  # fmt: skip
            yield len(page), len(fresh), cursor

    def _batch(self, target: PollTarget, fresh: list[Record], cursor: Cursor) -> Batch:
        events = [NewEvent("poll", "salesforce", target.sobject, to_18(r["Id"]), r) for r in fresh]
        jobs = [
            JobRequest(
                target.flow,
                f"salesforce/{target.sobject}/{to_18(r['Id'])}",
                hints=({"source": "poll", "modstamp": r["SystemModstamp"]},),
                priority=int(target.priority),
            )
            for r in fresh
        ]
        return Batch(events, jobs, cursor)
