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

import structlog

from freshforce.connectors.salesforce.client import CALL_CLIENT
from freshforce.connectors.salesforce.governor import Priority
from freshforce.connectors.salesforce.ids import to_18
from freshforce.connectors.salesforce.pubsub import PubSubClient, Received
from freshforce.engine.queue import JobQueue, JobRequest
from freshforce.intake.commit import Batch
from freshforce.intake.listener import ListenerTiming, PubSubListener, Sleep
from freshforce.intake.stream import Cursor, Stream
from freshforce.store.events import NewEvent

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from freshforce.clock import Clock
    from freshforce.connectors.salesforce.cdc_decode import ChangeEvent

__all__ = ["CdcConfig", "CdcSubscriber", "Fallback"]

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


class CdcSubscriber(PubSubListener):
    """Subscribes ``config.topic`` for one connection and stores what arrives."""

    failed_event = "cdc_stream_failed"

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
        timing = ListenerTiming(
            config.backoff_base, config.backoff_cap, config.lease_ttl, config.lease_renew_every
        )
        stream = Stream(connection_id, f"salesforce/cdc{config.topic}")
        super().__init__(
            client,
            engine,
            queue,
            stream=stream,
            timing=timing,
            holder=holder,
            clock=clock,
            rng=rng,
            sleep=sleep,
        )
        self._full_poll = full_poll
        self.config = config
        self.stats = _Stats(errors=self.errors)

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
        await self._commit(Batch(events, jobs, Cursor(position)))
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
        await self._commit(Batch((), jobs, Cursor("EARLIEST")))
        self.stats.resyncs += len(entities)
        log.warning(
            "cdc_replay_lost",
            topic=self.config.topic,
            fallback=str(self.config.fallback),
            resyncs=len(entities),
        )
