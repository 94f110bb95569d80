"""CDC subscriber: Salesforce change events from the Pub/Sub API turned into stored jobs.

One subscriber per connection and topic, guarded by the lease of the stream
``salesforce/cdc/<topic>``, which a :class:`~freshforce.intake.lease.LeaseKeeper` renews on a
timer: a quiet org whose keepalives come minutes apart keeps its lease, and a renewal that fails
stops the stream at once. Each batch the client yields is ONE
:func:`~freshforce.intake.commit.commit`: raw events, coalesced "reconcile salesforce/OBJ/ID for
FLOW" jobs, and the replay id of the last event (or a keepalive's ``latest_replay_id``) as the
cursor; only then is more requested, so a crash replays from the stored replay id and loses
nothing. Echoes of our own writes (``changeOrigin`` carrying ``client=freshforce``) are dropped
without a read. ``GAP_*`` events become plain reconcile jobs (the worker reads the record
anyway); ``GAP_OVERFLOW`` becomes an entity resync job (``salesforce/OBJ/*``); a replay id past
retention becomes one per entity, or a full poll of each entity, then the stream restarts from
EARLIEST. Errors resubscribe with jittered backoff from the stored replay id; auth errors
refresh first.
"""

from __future__ import annotations

import asyncio
import base64
import random
from collections.abc import Awaitable, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

import grpc
import structlog

from freshforce.backoff import full_jitter
from freshforce.connectors.salesforce.client import CALL_CLIENT
from freshforce.connectors.salesforce.governor import Priority
from freshforce.connectors.salesforce.ids import to_18
from freshforce.connectors.salesforce.pubsub import (
    AUTH_ERROR,
    REPLAY_CORRUPTED,
    PubSubClient,
    Received,
    error_code,
    status_code,
)
from freshforce.engine.queue import JobQueue, JobRequest
from freshforce.errors import LeaseLostError, TransientError
from freshforce.intake.commit import Batch, commit
from freshforce.intake.lease import LeaseKeeper
from freshforce.intake.stream import Cursor, Stream
from freshforce.store.events import NewEvent

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from freshforce.clock import Clock
    from freshforce.connectors.salesforce.cdc_decode import ChangeEvent

__all__ = ["CdcConfig", "CdcSubscriber", "Fallback"]

Sleep = Callable[[float], Awaitable[None]]
# Poll one entity completely (e.g. ``SalesforcePoller.poll`` of its target).
FullPoll = Callable[[str], Awaitable[object]]
log = structlog.get_logger("freshforce.intake.cdc")


class Fallback(StrEnum):
    """Where to restart when the stored replay id is past retention."""

    EARLIEST = "earliest"  # enqueue an entity resync job per entity, replay what is retained
    POLL = "poll"  # run a full poll per entity first (the poller's jobs), replay what is retained


@dataclass(frozen=True)
class CdcConfig:
    """What one subscriber listens to and how it behaves."""

    topic: str
    flows: Mapping[str, str]  # entity name -> flow its jobs are for
    batch: int = 100
    fallback: Fallback = Fallback.EARLIEST
    priority: Priority = Priority.CLIENTS
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    lease_ttl: timedelta = timedelta(seconds=60)
    lease_renew_every: float | None = None  # seconds; default a third of the TTL

    def __post_init__(self) -> None:
        if not 1 <= self.batch <= 100:  # noqa: PLR2004 - Pub/Sub's cap
            msg = f"CDC batch must be within 1..100 events (the Pub/Sub cap), got {self.batch}"
            raise ValueError(msg)


@dataclass
class _Stats:
    events: int = 0
    echoes: int = 0
    jobs: int = 0
    resyncs: int = 0
    subscriptions: int = 0
    errors: list[str] = field(default_factory=list)


class CdcSubscriber:
    """Subscribes ``config.topic`` for one connection and stores what arrives."""

    def __init__(
        self,
        client: PubSubClient,
        engine: AsyncEngine,
        queue: JobQueue,
        *,
        config: CdcConfig,
        connection_id: str,
        holder: str,
        clock: Clock,
        rng: random.Random,
        sleep: Sleep = asyncio.sleep,
        full_poll: FullPoll | None = None,
    ) -> None:
        self.client = client
        self._full_poll = full_poll
        self.engine = engine
        self.queue = queue
        self.config = config
        self._clock = clock
        self._rng = rng
        self._sleep = sleep
        self.stats = _Stats()
        self.keeper = LeaseKeeper(
            engine,
            Stream(connection_id, f"salesforce/cdc{config.topic}"),
            holder=holder,
            ttl=config.lease_ttl,
            clock=clock,
            interval=config.lease_renew_every,
        )

    @property
    def stream(self) -> str:
        return self.keeper.stream.name

    @property
    def lease_name(self) -> str:
        return self.keeper.name

    async def run(self, stop: asyncio.Event) -> None:
        """Hold the lease and keep a subscription open until ``stop`` is set.

        Raise ``LeaseLostError`` when another listener holds the lease at start, or when the
        lease is lost while listening (the stream is closed before anything more commits).
        """
        if not await self.keeper.acquire():
            msg = f"another listener holds {self.lease_name}"
            raise LeaseLostError(msg, retry_after=self.config.lease_ttl.total_seconds())
        try:
            await self.keeper.guard(self._listen(stop))
        finally:
            await self.keeper.release()

    async def _listen(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            stream = asyncio.ensure_future(self._subscribe_once())
            stopped = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({stream, stopped}, return_when=asyncio.FIRST_COMPLETED)
            finally:  # also when the lease keeper cancels us: close the stream first
                if not stream.done():
                    stream.cancel()
                stopped.cancel()
                await asyncio.gather(stream, stopped, return_exceptions=True)
            if stream.cancelled():
                return
            error = stream.exception()
            if error is None:
                failures = 0  # the server closed a healthy stream: resubscribe at once
                continue
            if isinstance(error, LeaseLostError):
                raise error
            failures += 1
            await self._after_error(error, failures)

    async def _after_error(self, error: BaseException, failures: int) -> None:
        code = error_code(error)
        self.stats.errors.append(code or type(error).__name__)
        log.warning("cdc_stream_failed", topic=self.config.topic, error_code=code, attempt=failures)
        if code == REPLAY_CORRUPTED:
            await self._lost_position()
            return
        if code == AUTH_ERROR or status_code(error) == grpc.StatusCode.UNAUTHENTICATED:
            await self.client.refresh_auth()
            return
        if not isinstance(error, grpc.aio.AioRpcError | TransientError):
            raise error
        await self._sleep(
            full_jitter(failures, self.config.backoff_base, self.config.backoff_cap, self._rng)
        )

    async def _subscribe_once(self) -> None:
        async with self.engine.connect() as conn:
            stored = await self.keeper.stream.load_cursor(conn)
        position = stored.position if stored is not None else "LATEST"
        self.stats.subscriptions += 1
        batches = self.client.subscribe(self.config.topic, position, self.config.batch)
        async with aclosing(batches):
            async for received in batches:
                await self._handle(received)

    async def _handle(self, received: Received) -> None:
        position = received.position
        if position is None:
            return
        events, jobs = self._work(received.events)
        batch = Batch(events, jobs, Cursor(position))
        await commit(self.engine, self.queue, batch, keeper=self.keeper, now=self._clock())
        self.stats.events += len(received.events)
        self.stats.jobs += len(jobs)

    def _work(self, decoded: tuple[ChangeEvent, ...]) -> tuple[list[NewEvent], list[JobRequest]]:
        events: list[NewEvent] = []
        jobs: list[JobRequest] = []
        for event in decoded:
            flow = self.config.flows.get(event.entity)
            if event.origin_client == CALL_CLIENT:
                self.stats.echoes += 1  # our own write: nothing new to reconcile
                continue
            events.extend(self._raw(event))
            if flow is not None:
                jobs.extend(self._jobs(event, flow))
        return events, jobs

    def _raw(self, event: ChangeEvent) -> list[NewEvent]:
        payload = {"replay_id": base64.b64encode(event.replay_id).decode(), **event.hint()}
        ids = event.record_ids or ("",)
        return [NewEvent("cdc", "salesforce", event.entity, rid or None, payload) for rid in ids]

    def _jobs(self, event: ChangeEvent, flow: str) -> list[JobRequest]:
        priority = int(self.config.priority)
        if event.change_type == "GAP_OVERFLOW" or any("*" in r for r in event.record_ids):
            self.stats.resyncs += 1
            key = f"salesforce/{event.entity}/*"
            return [JobRequest(flow, key, hints=(event.hint(),), priority=priority)]
        return [
            JobRequest(
                flow, f"salesforce/{event.entity}/{to_18(rid)}", (event.hint(),), priority=priority
            )
            for rid in event.record_ids
        ]

    async def _lost_position(self) -> None:
        """Resync every entity, then replay what is retained: the stored id is past retention.

        Both fallbacks restart from EARLIEST: replaying the retained events only costs
        coalesced jobs, and leaves no window between the resync and the new subscription.
        """
        entities = sorted(self.config.flows.items())
        polled = self.config.fallback == Fallback.POLL and self._full_poll is not None
        if polled and self._full_poll is not None:
            for entity, _flow in entities:
                await self._full_poll(entity)
        hint = {"source": "cdc", "reason": "replay_id_past_retention"}
        jobs = [
            JobRequest(flow, f"salesforce/{entity}/*", (hint,), priority=int(Priority.BACKFILL))
            for entity, flow in entities
            if not polled
        ]
        batch = Batch((), jobs, Cursor("EARLIEST"))
        await commit(self.engine, self.queue, batch, keeper=self.keeper, now=self._clock())
        self.stats.resyncs += len(entities)
        log.warning(
            "cdc_replay_lost",
            topic=self.config.topic,
            fallback=str(self.config.fallback),
            resyncs=len(entities),
        )
