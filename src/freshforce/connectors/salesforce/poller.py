"""Salesforce poller: finds changed records by SystemModstamp for orgs without change data capture.

Each page of ``SystemModstamp >= watermark - overlap ORDER BY SystemModstamp, Id`` is stored in
ONE transaction: a raw event per record, a coalesced "reconcile salesforce/OBJ/ID for FLOW" job,
and the advanced cursor. The overlap re-reads changes whose transaction committed after a later
stamp was already seen; (Id, SystemModstamp) pairs inside the overlap are remembered in the
cursor and dropped when read again, so a quiet org produces no work at all.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.connectors.salesforce.client import LocatorLostError, SalesforceClient
from freshforce.connectors.salesforce.governor import Priority
from freshforce.connectors.salesforce.ids import to_18
from freshforce.connectors.salesforce.soql import modstamp_poll
from freshforce.engine.queue import JobQueue, JobRequest
from freshforce.errors import LeaseLostError
from freshforce.store.cursors import load_cursor, save_cursor
from freshforce.store.events import NewEvent, record_events
from freshforce.store.lease import acquire_lease, release_lease, renew_lease

__all__ = ["PollCursor", "PollTarget", "SalesforcePoller", "parse_datetime"]

Clock = Callable[[], datetime]
# A record as Salesforce sends it: a JSON object.
Record = dict[str, Any]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
log = structlog.get_logger("freshforce.connectors.salesforce.poller")
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


@dataclass(frozen=True)
class PollCursor:
    """The watermark and the (Id, SystemModstamp) pairs already seen inside the overlap."""

    since: datetime
    seen: frozenset[tuple[str, str]] = frozenset()

    def dump(self) -> str:
        return json.dumps({"since": self.since.isoformat(), "seen": sorted(self.seen)})

    @classmethod
    def load(cls, text: str | None, start: datetime) -> PollCursor:
        if text is None:
            return cls(start)
        data = json.loads(text)
        seen = frozenset((str(i), str(s)) for i, s in data["seen"])
        return cls(datetime.fromisoformat(data["since"]), seen)

    def advance(self, records: Sequence[Record], overlap: timedelta) -> PollCursor:
        """Move past ``records`` and forget pairs that fell out of the overlap window."""
        stamps = [parse_datetime(r["SystemModstamp"]) for r in records]
        since = max([self.since, *stamps])
        keep_from = since - overlap
        pairs = self.seen | {(to_18(r["Id"]), r["SystemModstamp"]) for r in records}
        return PollCursor(since, frozenset(p for p in pairs if parse_datetime(p[1]) >= keep_from))


@dataclass(frozen=True)
class PollResult:
    """What one poll stored: records read, new ones (events and jobs), pages."""

    read: int
    new: int
    pages: int


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

    def lease_name(self, target: PollTarget) -> str:
        """Return the lease that makes this the only poller of ``target``'s stream."""
        return f"{self.connection_id}/salesforce:{target.stream}"

    async def release(self, target: PollTarget) -> None:
        """Give up ``target``'s lease (on shutdown)."""
        async with self.engine.begin() as conn:
            await release_lease(conn, self.lease_name(target), self.holder)

    async def poll(self, target: PollTarget) -> PollResult | None:
        """Read everything changed since the stored cursor and store it page by page.

        Returns ``None`` without reading when another poller holds the stream's lease. A token
        refresh mid-read kills the query cursor; the poll then goes on from the cursor it has
        committed so far. Each page renews the lease in its own transaction; a lost lease raises
        ``LeaseLostError`` and that page commits nothing.
        """
        name = self.lease_name(target)
        async with self.engine.begin() as conn:
            if not await acquire_lease(
                conn, name, self.holder, ttl=self.lease_ttl, now=self.clock()
            ):
                log.info("poll_skipped_lease_held", stream=target.stream, lease=name)
                return None
        tally = PollResult(0, 0, 0)
        for restart in range(_LOCATOR_RESTARTS + 1):
            try:
                async for page in self._pages(target):
                    tally = PollResult(
                        tally.read + page.read, tally.new + page.new, tally.pages + 1
                    )
            except LocatorLostError:
                if restart == _LOCATOR_RESTARTS:
                    raise
            else:
                break
        return tally

    async def _pages(self, target: PollTarget) -> AsyncIterator[PollResult]:
        async with self.engine.connect() as conn:
            stored = await load_cursor(conn, self.connection_id, target.stream)
        cursor = PollCursor.load(stored, self.start)
        soql = modstamp_poll(target.sobject, target.fields, cursor.since - self.overlap)
        pages = self.client.query_pages(soql, priority=target.priority, batch_size=self.page_size)
        async for page in pages:
            fresh = [r for r in page if (to_18(r["Id"]), r["SystemModstamp"]) not in cursor.seen]
            cursor = cursor.advance(page, self.overlap)
            await self._store(target, fresh, cursor)
            yield PollResult(len(page), len(fresh), 1)

    async def _store(self, target: PollTarget, fresh: list[Record], cursor: PollCursor) -> None:
        now = self.clock()
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
        async with self.engine.begin() as conn:
            name = self.lease_name(target)
            if not await renew_lease(conn, name, self.holder, ttl=self.lease_ttl, now=now):
                msg = f"lost the poller lease {name}; another process took over"
                raise LeaseLostError(msg)
            await record_events(conn, events, now=now)
            if jobs:
                await self.queue.enqueue_many(conn, jobs)
            await save_cursor(conn, self.connection_id, target.stream, cursor.dump(), now=now)
