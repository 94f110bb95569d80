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
from collections.abc import Mapping
from contextlib import aclosing
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import structlog

from freshforce.connectors.salesforce.governor import Priority
from freshforce.intake.commit import Batch
from freshforce.intake.listener import ListenerTiming, PubSubListener, Sleep
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


class EventSubscriber(PubSubListener):
    """Listens to ``config.channel`` for one connection and stores one job per event."""

    failed_event = "event_stream_failed"

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
        timing = ListenerTiming(config.backoff_base, config.backoff_cap, config.lease_ttl)
        stream = Stream(connection_id, f"salesforce{config.channel}")
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
        self.config = config
        self.events = 0

    async def _lost_position(self) -> None:
        # Replaying what is retained only costs coalesced jobs.
        await self._commit(Batch((), (), Cursor("EARLIEST")))

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
        await self._commit(Batch(events, jobs, Cursor(position)))
        self.events += len(received.events)
