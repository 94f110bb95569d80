"""The FreshBooks poller: turn records changed since the cursor into events and reconcile jobs.

For one connection and one stream (clients, invoices, payments, ...) at a time:

- the lease ``<connection>/freshbooks:<stream>`` makes it the only poller of that stream;
- it lists by ``updated`` from ``watermark - overlap`` (FreshBooks filters by Eastern day and
  late writes can land with an older ``updated``, so the overlap re-reads a window);
- a record whose ``(id, updated)`` was already seen in the window is dropped, so the overlap and
  the day-granular filter produce no duplicate events;
- each page is ONE transaction: raw events stored, coalesced "reconcile KEY for FLOW" jobs
  enqueued, the cursor advanced and the lease renewed; if the lease was lost, nothing commits.

It never does the sync work itself: jobs say "this record may have changed".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import structlog

from freshforce.connectors.freshbooks.client import RESOURCES, FreshBooksClient, Page
from freshforce.engine.queue import JobRequest
from freshforce.errors import LeaseLostError
from freshforce.store.cursors import load_cursor, save_cursor
from freshforce.store.events import NewEvent, record_events
from freshforce.store.lease import acquire_lease, release_lease, renew_lease

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from freshforce.connectors.freshbooks.models import Record
    from freshforce.engine.queue import JobQueue

__all__ = ["FreshBooksPoller", "LeaseLostError", "PollResult", "PollerConfig"]

Clock = Callable[[], datetime]
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
log = structlog.get_logger("freshforce.connectors.freshbooks.poller")


@dataclass(frozen=True)
class PollerConfig:
    """How far back to re-read and how long a lease lasts."""

    overlap: timedelta = timedelta(minutes=10)
    lease_ttl: timedelta = timedelta(seconds=60)
    start: datetime = EPOCH  # where a stream without a cursor begins (a backfill)
    flows: dict[str, str] = field(
        default_factory=lambda: {
            "clients": "clients",
            "invoices": "invoices",
            "payments": "payments",
        }
    )


@dataclass(frozen=True)
class PollResult:
    """What one poll of one stream did."""

    stream: str
    pages: int
    changes: int
    duplicates: int
    watermark: datetime


@dataclass
class _Cursor:
    watermark: datetime
    seen: dict[str, str]  # record id -> updated (ISO, UTC) of changes inside the window

    def dump(self) -> str:
        return json.dumps({"watermark": self.watermark.isoformat(), "seen": self.seen})

    @classmethod
    def load(cls, text: str | None, start: datetime) -> _Cursor:
        if text is None:
            return cls(start, {})
        data = json.loads(text)
        return cls(datetime.fromisoformat(data["watermark"]), dict(data["seen"]))


class FreshBooksPoller:
    """Polls the streams of one FreshBooks connection."""

    def __init__(
        self,
        client: FreshBooksClient,
        engine: AsyncEngine,
        queue: JobQueue,
        *,
        connection_id: str,
        holder: str,
        clock: Clock,
        config: PollerConfig | None = None,
    ) -> None:
        self._client = client
        self._engine = engine
        self._queue = queue
        self._connection_id = connection_id
        self._holder = holder
        self._clock = clock
        self._config = config or PollerConfig()

    def lease_name(self, stream: str) -> str:
        return f"{self._connection_id}/freshbooks:{stream}"

    async def poll(self, stream: str) -> PollResult | None:
        """Poll ``stream`` once; ``None`` when another poller holds its lease."""
        name = self.lease_name(stream)
        async with self._engine.begin() as db:
            if not await acquire_lease(
                db, name, self._holder, ttl=self._config.lease_ttl, now=self._clock()
            ):
                log.info("poll_skipped_lease_held", stream=stream, lease=name)
                return None
            cursor = _Cursor.load(
                await load_cursor(db, self._connection_id, _stream_key(stream)),
                self._config.start,
            )
        return await self._run(stream, cursor)

    async def release(self, stream: str) -> None:
        """Give up the stream's lease (on shutdown)."""
        async with self._engine.begin() as db:
            await release_lease(db, self.lease_name(stream), self._holder)

    async def _run(self, stream: str, cursor: _Cursor) -> PollResult:
        resource = RESOURCES[stream]
        pages = changes = duplicates = 0
        async for page in self._client.changed_since(
            resource, cursor.watermark, overlap=self._config.overlap
        ):
            pages += 1
            fresh = self._fresh(page, cursor)
            duplicates += len(page.records) - len(fresh)
            await self._commit_page(stream, fresh, cursor)
            changes += len(fresh)
        log.info("poll_done", stream=stream, pages=pages, changes=changes, duplicates=duplicates)
        return PollResult(stream, pages, changes, duplicates, cursor.watermark)

    def _fresh(self, page: Page, cursor: _Cursor) -> list[Record]:
        fresh: list[Record] = []
        for record in page.records:
            updated = (record.updated or cursor.watermark).isoformat()
            if cursor.seen.get(str(record.id)) == updated:
                continue
            cursor.seen[str(record.id)] = updated
            fresh.append(record)
        return fresh

    async def _commit_page(self, stream: str, fresh: list[Record], cursor: _Cursor) -> None:
        for record in fresh:
            if record.updated is not None and record.updated > cursor.watermark:
                cursor.watermark = record.updated
        floor = (cursor.watermark - self._config.overlap).isoformat()
        cursor.seen = {k: v for k, v in cursor.seen.items() if v >= floor}
        now = self._clock()
        async with self._engine.begin() as db:
            if not await renew_lease(
                db, self.lease_name(stream), self._holder, ttl=self._config.lease_ttl, now=now
            ):
                raise LeaseLostError(self.lease_name(stream))
            await self._store(db, stream, fresh, now)
            await save_cursor(db, self._connection_id, _stream_key(stream), cursor.dump(), now=now)

    async def _store(
        self, db: AsyncConnection, stream: str, fresh: list[Record], now: datetime
    ) -> None:
        if not fresh:
            return
        singular = RESOURCES[stream].singular
        await record_events(
            db,
            [NewEvent("poll", "freshbooks", singular, str(r.id), dict(r.raw)) for r in fresh],
            now=now,
        )
        flow = self._config.flows.get(stream, stream)
        requests = [
            JobRequest(flow, f"freshbooks/{singular}/{r.id}", ({"source": "poll"},))
            for r in {r.id: r for r in fresh}.values()
        ]
        await self._queue.enqueue_many(db, requests)


def _stream_key(stream: str) -> str:
    return f"freshbooks:{stream}"
