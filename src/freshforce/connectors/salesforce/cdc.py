"""CDC subscriber: Salesforce change events over the Pub/Sub API turned into stored jobs.

One subscriber per connection and topic, guarded by a lease row. Each ``FetchResponse`` is
handled in ONE transaction: raw events, coalesced "reconcile salesforce/OBJ/ID for FLOW" jobs,
the replay id of the last event (or a keepalive's ``latest_replay_id``) and a lease renewal;
only then is more requested, so a crash replays from the stored replay id and loses nothing.
Echoes of our own writes (``changeOrigin`` carrying ``client=freshforce``) are dropped without a
read. ``GAP_*`` events become plain reconcile jobs (the worker reads the record anyway);
``GAP_OVERFLOW`` becomes an entity resync job (``salesforce/OBJ/*``); a replay id past
retention becomes one per entity, or a full poll of each entity, then the stream restarts from
EARLIEST.
Errors resubscribe with jittered backoff from the stored replay id; auth errors refresh first.
"""

from __future__ import annotations

import asyncio
import base64
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

import grpc
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from freshforce.backoff import full_jitter
from freshforce.connectors.salesforce.cdc_decode import ChangeEvent, SchemaCache, decode_event
from freshforce.connectors.salesforce.client import CALL_CLIENT
from freshforce.connectors.salesforce.governor import Priority
from freshforce.connectors.salesforce.ids import to_18
from freshforce.engine.queue import JobQueue, JobRequest
from freshforce.errors import LeaseLostError, TransientError
from freshforce.proto import pubsub_api_pb2 as pb
from freshforce.proto import pubsub_api_pb2_grpc as pb_grpc
from freshforce.store.cursors import load_cursor, save_cursor
from freshforce.store.events import NewEvent, record_events
from freshforce.store.lease import acquire_lease, release_lease, renew_lease

__all__ = ["AuthMetadata", "CdcConfig", "CdcSubscriber", "Fallback", "LeaseLostError"]

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]
# (metadata pairs for the call, a token version to hand back when the token was refused)
AuthMetadata = Callable[[], Awaitable[tuple[tuple[tuple[str, str], ...], int]]]
Refresh = Callable[[int], Awaitable[object]]
# Poll one entity completely (e.g. ``SalesforcePoller.poll`` of its target).
FullPoll = Callable[[str], Awaitable[object]]

REPLAY_CORRUPTED = "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"
AUTH_ERROR = "sfdc.platform.eventbus.grpc.service.auth.error"
log = structlog.get_logger("freshforce.connectors.salesforce.cdc")


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
        stub: pb_grpc.PubSubStub,
        auth: AuthMetadata,
        refresh: Refresh,
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
        self.stub = stub
        self._full_poll = full_poll
        self._auth = auth
        self._refresh = refresh
        self.engine = engine
        self.queue = queue
        self.config = config
        self.connection_id = connection_id
        self.holder = holder
        self._clock = clock
        self._rng = rng
        self._sleep = sleep
        self.stats = _Stats()
        self._schemas = SchemaCache(self._fetch_schema)
        self._version = 0

    @property
    def stream(self) -> str:
        return f"salesforce/cdc{self.config.topic}"

    @property
    def lease_name(self) -> str:
        return f"{self.connection_id}/{self.stream}"

    async def _metadata(self) -> tuple[tuple[str, str], ...]:
        metadata, self._version = await self._auth()
        return metadata

    async def _fetch_schema(self, schema_id: str) -> str:
        request = pb.SchemaRequest(schema_id=schema_id)
        info = await self.stub.GetSchema(request, metadata=await self._metadata())
        return str(info.schema_json)

    async def run(self, stop: asyncio.Event) -> None:
        """Hold the lease and keep a subscription open until ``stop`` is set."""
        async with self.engine.begin() as conn:
            if not await self._take_lease(conn, renew=False):
                msg = f"another listener holds {self.lease_name}"
                raise LeaseLostError(msg, retry_after=self.config.lease_ttl.total_seconds())
        try:
            await self._listen(stop)
        finally:
            async with self.engine.begin() as conn:
                await release_lease(conn, self.lease_name, self.holder)

    async def _listen(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            stream = asyncio.ensure_future(self._subscribe_once())
            stopped = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({stream, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if stream not in done:
                stream.cancel()
                await asyncio.gather(stream, return_exceptions=True)
                return
            stopped.cancel()
            error = stream.exception()
            if error is None:
                failures = 0  # the server closed a healthy stream: resubscribe at once
                continue
            if isinstance(error, LeaseLostError):
                raise error
            failures += 1
            await self._after_error(error, failures)

    async def _after_error(self, error: BaseException, failures: int) -> None:
        code = _error_code(error)
        self.stats.errors.append(code or type(error).__name__)
        log.warning("cdc_stream_failed", topic=self.config.topic, error_code=code, attempt=failures)
        if code == REPLAY_CORRUPTED:
            await self._lost_position()
            return
        if code == AUTH_ERROR or _status(error) == grpc.StatusCode.UNAUTHENTICATED:
            await self._refresh(self._version)
            return
        if not isinstance(error, grpc.aio.AioRpcError | TransientError):
            raise error
        await self._sleep(
            full_jitter(failures, self.config.backoff_base, self.config.backoff_cap, self._rng)
        )

    async def _subscribe_once(self) -> None:
        async with self.engine.connect() as conn:
            stored = await load_cursor(conn, self.connection_id, self.stream)
        first = self._first_request(stored)
        call = self.stub.Subscribe(metadata=await self._metadata())
        self.stats.subscriptions += 1
        await call.write(first)
        while True:
            response = await call.read()
            if response is grpc.aio.EOF:  # type: ignore[attr-defined]  # not in the stubs
                return
            await self._handle(response)
            if response.pending_num_requested == 0:
                await call.write(pb.FetchRequest(num_requested=self.config.batch))

    def _first_request(self, stored: str | None) -> pb.FetchRequest:
        topic, batch = self.config.topic, self.config.batch
        if stored is None or stored in {"EARLIEST", "LATEST"}:
            preset = pb.EARLIEST if stored == "EARLIEST" else pb.LATEST
            return pb.FetchRequest(topic_name=topic, replay_preset=preset, num_requested=batch)
        return pb.FetchRequest(
            topic_name=topic,
            replay_preset=pb.CUSTOM,
            replay_id=base64.b64decode(stored),
            num_requested=batch,
        )

    async def _handle(self, response: Any) -> None:  # noqa: ANN401 - a generated FetchResponse
        decoded: list[ChangeEvent] = []
        for item in response.events:
            schema, fields = await self._schemas.get(item.event.schema_id)
            decoded.append(decode_event(item.event.payload, item.replay_id, schema, fields))
        replay = decoded[-1].replay_id if decoded else response.latest_replay_id
        if not replay:
            return
        events, jobs = self._work(decoded)
        async with self.engine.begin() as conn:
            await self._take_lease(conn, renew=True)
            await record_events(conn, events, now=self._clock())
            if jobs:
                await self.queue.enqueue_many(conn, jobs)
            await self._save(conn, base64.b64encode(replay).decode())
        self.stats.events += len(decoded)
        self.stats.jobs += len(jobs)

    def _work(self, decoded: list[ChangeEvent]) -> tuple[list[NewEvent], list[JobRequest]]:
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
        async with self.engine.begin() as conn:
            await self._take_lease(conn, renew=True)
            if jobs:
                await self.queue.enqueue_many(conn, jobs)
            await self._save(conn, "EARLIEST")
        self.stats.resyncs += len(entities)
        log.warning(
            "cdc_replay_lost",
            topic=self.config.topic,
            fallback=str(self.config.fallback),
            resyncs=len(entities),
        )

    async def _save(self, conn: AsyncConnection, value: str) -> None:
        await save_cursor(conn, self.connection_id, self.stream, value, now=self._clock())

    async def _take_lease(self, conn: AsyncConnection, *, renew: bool) -> bool:
        step = renew_lease if renew else acquire_lease
        held = await step(
            conn, self.lease_name, self.holder, ttl=self.config.lease_ttl, now=self._clock()
        )
        if renew and not held:
            msg = f"lost the listener lease {self.lease_name}; another process took over"
            raise LeaseLostError(msg)
        return held


def _status(error: BaseException) -> grpc.StatusCode | None:
    return error.code() if isinstance(error, grpc.aio.AioRpcError) else None


def _error_code(error: BaseException) -> str | None:
    if not isinstance(error, grpc.aio.AioRpcError):
        return None
    # grpc.aio hands trailers as (key, value) pairs; the stubs call them metadata objects.
    pairs = cast("Iterable[tuple[str, str | bytes]]", error.trailing_metadata() or ())
    for key, value in pairs:
        if key.lower() == "error-code":
            return value if isinstance(value, str) else value.decode()
    return None
