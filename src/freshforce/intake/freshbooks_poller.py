"""The FreshBooks poller: turn records changed since the cursor into events and reconcile jobs.

For one connection and one stream (clients, invoices, payments, ...) at a time:

- the stream ``freshbooks/poll/<stream>``'s lease makes it the only poller of that stream;
- it lists by ``updated`` from ``watermark - overlap`` (FreshBooks filters by Eastern day and
  late writes can land with an older ``updated``, so the overlap re-reads a window);
- a record whose ``(id, updated)`` was already seen in the window is dropped, so the overlap and
  the day-granular filter produce no duplicate events;
- each page is ONE :func:`~freshforce.intake.commit.commit`: events, coalesced "reconcile KEY
  for FLOW" jobs, the advanced cursor and a lease renewal; if the lease was lost, nothing commits.

It never does the sync work itself: jobs say "this record may have changed".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import structlog

from freshforce.connectors.freshbooks.client import RESOURCES, FreshBooksClient
from freshforce.engine.queue import JobRequest
from freshforce.intake.commit import Batch, commit
from freshforce.intake.lease import LeaseKeeper
from freshforce.intake.poll_result import PollResult
from freshforce.intake.stream import Cursor, Stream
from freshforce.store.events import NewEvent

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from freshforce.clock import Clock
    from freshforce.connectors.freshbooks.models import Record
    from freshforce.engine.queue import JobQueue

__all__ = ["FreshBooksPoller", "PollerConfig"]

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
log = structlog.get_logger("freshforce.intake.freshbooks_poller")


@dataclass(frozen=True)
class PollerConfig:
    """How far back to re-read and how long a lease lasts."""

    overlap: timedelta = timedelta(minutes=10)
    lease_ttl: timedelta = timedelta(seconds=60)
    start: datetime = EPOCH  # where a stream without a cursor begins (a backfill)
    flows: dict[str, str] = field(
        default_factory=lambda: {
            "clients": "clients",
            "invoices": "payments",  # an invoice's change moves its payment status
            "payments": "payments",
        }
    )
    # resource → more flows its changes feed (mirror flows), a job each
    also: dict[str, tuple[str, ...]] = field(default_factory=dict)


def stream_name(stream: str) -> str:
    """Return the stream name of FreshBooks resource ``stream`` (``freshbooks/poll/clients``)."""
    return f"freshbooks/poll/{stream}"


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

    def keeper(self, stream: str) -> LeaseKeeper:
        """Return the lease keeper of ``stream`` for this poller."""
        return LeaseKeeper(
            self._engine,
            Stream(self._connection_id, stream_name(stream)),
            holder=self._holder,
            ttl=self._config.lease_ttl,
            clock=self._clock,
        )

    async def poll(self, stream: str) -> PollResult | None:
        """Poll ``stream`` once; ``None`` when another poller holds its lease."""
        keeper = self.keeper(stream)
        if not await keeper.acquire():
            log.info("poll_skipped_lease_held", stream=stream, lease=keeper.name)
            return None
        async with self._engine.connect() as db:
            stored = await keeper.stream.load_cursor(db)
        start = stored or Cursor(self._config.start.isoformat())
        return await keeper.guard(self._run(stream, keeper, start))

    async def release(self, stream: str) -> None:
        """Give up the stream's lease (on shutdown)."""
        await self.keeper(stream).release()

    async def _run(self, stream: str, keeper: LeaseKeeper, cursor: Cursor) -> PollResult:
        resource = RESOURCES[stream]
        watermark = datetime.fromisoformat(cursor.position)
        pages = read = new = 0
        async for page in self._client.changed_since(
            resource, watermark, overlap=self._config.overlap
        ):
            pages += 1
            read += len(page.records)
            fresh = [r for r in page.records if _pair(r, watermark) not in cursor.seen]
            cursor = self._advance(cursor, fresh)
            watermark = datetime.fromisoformat(cursor.position)
            await commit(
                self._engine,
                self._queue,
                Batch(self._events(stream, fresh), self._jobs(stream, fresh), cursor),
                keeper=keeper,
                now=self._clock(),
            )
            new += len(fresh)
        log.info("poll_done", stream=stream, pages=pages, changes=new, duplicates=read - new)
        return PollResult(keeper.stream.name, pages, read, new, watermark)

    def _advance(self, cursor: Cursor, fresh: list[Record]) -> Cursor:
        before = datetime.fromisoformat(cursor.position)
        pairs = cursor.seen | {_pair(r, before) for r in fresh}
        watermark = max([before, *(r.updated for r in fresh if r.updated is not None)])
        floor = (watermark - self._config.overlap).isoformat()
        return Cursor(watermark.isoformat(), frozenset(p for p in pairs if p[1] >= floor))

    def _events(self, stream: str, fresh: list[Record]) -> list[NewEvent]:
        singular = RESOURCES[stream].singular
        return [NewEvent("poll", "freshbooks", singular, str(r.id), dict(r.raw)) for r in fresh]

    def _jobs(self, stream: str, fresh: list[Record]) -> list[JobRequest]:
        singular = RESOURCES[stream].singular
        flows = (self._config.flows.get(stream, stream), *self._config.also.get(stream, ()))
        return [
            JobRequest(flow, f"freshbooks/{singular}/{r.id}", ({"source": "poll"},))
            for flow in flows
            for r in {r.id: r for r in fresh}.values()
        ]


def _pair(record: Record, watermark: datetime) -> tuple[str, str]:
    return (str(record.id), (record.updated or watermark).isoformat())
