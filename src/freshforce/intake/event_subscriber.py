"""Platform event subscriber: a sync request channel of Salesforce turned into stored jobs.

One subscriber per connection and channel (``/event/<Name>__e``), leased as the stream
``salesforce/event/<Name>__e`` exactly as the CDC subscriber leases its topic: one listener runs,
others stand by. Each batch is ONE :func:`~freshforce.intake.commit.commit` of the raw events,
one job per event (:func:`~freshforce.intake.sync_requests.request_job`: coalesced with the
record's other jobs, or a dead letter for a request that cannot be served) and the replay id as
the cursor; only then is more requested. Errors resubscribe from the stored replay id with
jittered backoff (auth errors refresh the token first); a replay id past retention restarts
from EARLIEST, whose requests only cost coalesced jobs.
"""

from __future__ import annotations

import asyncio
import base64
import random
from collections.abc import Awaitable, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import grpc
import structlog

from freshforce.backoff import full_jitter
from freshforce.connectors.salesforce.governor import Priority
from freshforce.connectors.salesforce.pubsub import AUTH_ERROR, REPLAY_CORRUPTED, error_code
from freshforce.errors import LeaseLostError, TransientError
from freshforce.intake.commit import Batch, commit
from freshforce.intake.lease import LeaseKeeper
from freshforce.intake.stream import Cursor, Stream
from freshforce.intake.sync_requests import request_job
from freshforce.store.events import NewEvent

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from freshforce.clock import Clock
    from freshforce.connectors.salesforce.platform_events import ReceivedEvents
    from freshforce.connectors.salesforce.pubsub import PubSubClient
    from freshforce.engine.queue import JobQueue

__all__ = ["EventChannelConfig", "EventSubscriber"]

Sleep = Callable[[float], Awaitable[None]]
log = structlog.get_logger("freshforce.intake.event_subscriber")


@dataclass(frozen=True)
class EventChannelConfig:
    """One platform event channel to listen to, and the flow of each watched object."""

    channel: str  # /event/FreshBooks_Sync_Request__e
    flows: Mapping[str, str]  # Salesforce object -> flow (as for CDC)
    batch: int = 100
    priority: Priority = Priority.CLIENTS
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    lease_ttl: timedelta = timedelta(seconds=60)

    def __post_init__(self) -> None:
        if not self.channel.startswith("/event/") or not self.channel.endswith("__e"):
            msg = f"platform event channel {self.channel!r} is not /event/<Name>__e"
            raise ValueError(msg)
        if not 1 <= self.batch <= 100:  # noqa: PLR2004 - Pub/Sub's cap
            msg = f"event batch must be within 1..100 (the Pub/Sub cap), got {self.batch}"
            raise ValueError(msg)


class EventSubscriber:
    """Listens to ``config.channel`` for one connection and stores one job per event."""

    def __init__(
        self,
        client: PubSubClient,
        engine: AsyncEngine,
        queue: JobQueue,
        *,
        config: EventChannelConfig,
        connection_id: str,
        holder: str,
        clock: Clock,
        rng: random.Random,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.client = client
        self.engine = engine
        self.queue = queue
        self.config = config
        self._clock = clock
        self._rng = rng
        self._sleep = sleep
        self.events = 0
        self.errors: list[str] = []
        self.keeper = LeaseKeeper(
            engine,
            Stream(connection_id, f"salesforce{config.channel}"),
            holder=holder,
            ttl=config.lease_ttl,
            clock=clock,
        )

    @property
    def stream(self) -> str:
        return self.keeper.stream.name

    @property
    def lease_name(self) -> str:
        return self.keeper.name

    async def run(self, stop: asyncio.Event) -> None:
        """Hold the lease and listen until ``stop`` is set; ``LeaseLostError`` if not held."""
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
                failures = 0
                continue
            if isinstance(error, LeaseLostError):
                raise error
            failures += 1
            await self._after_error(error, failures)

    async def _after_error(self, error: BaseException, failures: int) -> None:
        code = error_code(error)
        self.errors.append(code or type(error).__name__)
        log.warning("event_stream_failed", channel=self.config.channel, error_code=code)
        if code == REPLAY_CORRUPTED:
            batch = Batch((), (), Cursor("EARLIEST"))
            await commit(self.engine, self.queue, batch, keeper=self.keeper, now=self._clock())
            return
        if code == AUTH_ERROR or (
            isinstance(error, grpc.aio.AioRpcError)
            and error.code() == grpc.StatusCode.UNAUTHENTICATED
        ):
            await self.client.refresh_auth()
            return
        if not isinstance(error, grpc.aio.AioRpcError | TransientError):
            raise error
        cfg = self.config
        await self._sleep(full_jitter(failures, cfg.backoff_base, cfg.backoff_cap, self._rng))

    async def _subscribe_once(self) -> None:
        async with self.engine.connect() as conn:
            stored = await self.keeper.stream.load_cursor(conn)
        position = stored.position if stored is not None else "LATEST"
        batches = self.client.subscribe_events(self.config.channel, position, self.config.batch)
        async with aclosing(batches):
            async for received in batches:
                await self._handle(received)

    async def _handle(self, received: ReceivedEvents) -> None:
        position = received.position
        if position is None:
            return
        name = self.config.channel.removeprefix("/event/")
        events, jobs = [], []
        for event in received.events:
            job = request_job(
                event, self.config.channel, self.config.flows, priority=int(self.config.priority)
            )
            payload = {
                "replay_id": base64.b64encode(event.replay_id).decode(),
                "event_id": event.event_id,
                "fields": {k: v for k, v in event.values.items() if k != "CreatedDate"},
            }
            record_id = event.text("Record_Id__c") or None
            events.append(NewEvent("platform_event", "salesforce", name, record_id, payload))
            jobs.append(job)
            log.info(
                "sync_request_received", channel=self.config.channel, flow=job.flow, key=job.key
            )
        batch = Batch(events, jobs, Cursor(position))
        await commit(self.engine, self.queue, batch, keeper=self.keeper, now=self._clock())
        self.events += len(received.events)
