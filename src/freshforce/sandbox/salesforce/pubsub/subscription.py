"""One Subscribe stream: flow control, delivery in replay order, keepalives and idle close.

The client asks for events with ``num_requested``; the outstanding count is capped at 100 and
each response reports what is left. With nothing to send, an empty response carrying the latest
replay id goes out every keepalive interval; with nothing requested for the idle-close time, the
stream ends.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator

import grpc

from freshforce.proto import pubsub_api_pb2 as pb
from freshforce.sandbox.salesforce.pubsub.controls import PubSubControls
from freshforce.sandbox.salesforce.pubsub.faults import (
    INVALID_REQUEST,
    PubSubFault,
    service_unavailable,
)
from freshforce.sandbox.salesforce.pubsub.replay import encode_replay_id
from freshforce.sandbox.salesforce.pubsub.topics import Topic

__all__ = ["MAX_REQUESTED", "Subscription"]

MAX_REQUESTED = 100
_OUTAGE_POLL = 0.5


class Subscription:
    """The state of one stream: where it is in the topic and how many events it may still send."""

    def __init__(self, topic: Topic, after: int, rpc_id: str, controls: PubSubControls) -> None:
        self._topic = topic
        self._cursor = after
        self._rpc_id = rpc_id
        self._controls = controls
        self._pending = 0
        self._fault: PubSubFault | None = None
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._idle_since = self._last_sent = self._loop.time()

    def request(self, num_requested: int) -> None:
        """Add a client's request to the outstanding count (capped at 100)."""
        if num_requested < 0:
            raise PubSubFault(
                grpc.StatusCode.INVALID_ARGUMENT,
                INVALID_REQUEST,
                f"num_requested must not be negative, got {num_requested}",
            )
        self._pending = min(self._pending + num_requested, MAX_REQUESTED)
        self._wake.set()

    def fail(self, fault: PubSubFault) -> None:
        """End the stream with ``fault`` at the next turn."""
        self._fault = fault
        self._wake.set()

    def _wake_from_any_thread(self) -> None:
        self._loop.call_soon_threadsafe(self._wake.set)

    def _response(self, events: list[pb.ConsumerEvent], latest: bytes) -> pb.FetchResponse:
        return pb.FetchResponse(
            events=events,
            latest_replay_id=latest,
            rpc_id=self._rpc_id,
            pending_num_requested=self._pending,
        )

    def _next_batch(self) -> pb.FetchResponse | None:
        if self._pending == 0:
            return None
        events = self._topic.since(self._cursor, self._pending)
        if not events:
            return None
        events = [self._corrupted(e) for e in events]
        self._cursor = int.from_bytes(events[-1].replay_id, "big")
        self._pending -= len(events)
        self._last_sent = self._loop.time()
        if self._pending == 0:
            self._idle_since = self._last_sent
        return self._response(events, events[-1].replay_id)

    def _corrupted(self, event: pb.ConsumerEvent) -> pb.ConsumerEvent:
        garbage = self._controls.corrupt.get(int.from_bytes(event.replay_id, "big"))
        if garbage is None:
            return event
        copy = pb.ConsumerEvent()
        copy.CopyFrom(event)
        copy.event.payload = garbage
        return copy

    def _keepalive(self) -> pb.FetchResponse:
        """Build an empty response whose replay id is safe to resume from."""
        caught_up = not self._topic.since(self._cursor, 1)
        latest = self._topic.latest_replay_id() if caught_up else self._cursor
        self._last_sent = self._loop.time()
        return self._response([], encode_replay_id(max(latest, self._cursor)))

    async def _woken_before(self, deadline: float) -> bool:
        try:
            async with asyncio.timeout(max(0.0, deadline - self._loop.time())):
                await self._wake.wait()
        except TimeoutError:
            return False
        return True

    def _check_outage(self) -> None:
        if self._fault is not None:
            raise self._fault
        if self._controls.unavailable:
            raise service_unavailable()

    async def responses(self) -> AsyncIterator[pb.FetchResponse]:
        """Yield responses until the idle-close time passes or the stream fails.

        Waits are cut into slices of at most ``_OUTAGE_POLL`` seconds so an outage switched on
        through the admin API ends open streams too, as a real service interruption does.
        """
        self._topic.add_listener(self._wake_from_any_thread)
        try:
            while True:
                self._wake.clear()
                self._check_outage()
                batch = self._next_batch()
                if batch is not None:
                    yield batch
                    continue
                keepalive_at = self._last_sent + self._controls.keepalive_seconds
                close_at = math.inf
                if self._pending == 0:
                    close_at = self._idle_since + self._controls.idle_close_seconds
                deadline = min(keepalive_at, close_at, self._loop.time() + _OUTAGE_POLL)
                if await self._woken_before(deadline):
                    continue
                now = self._loop.time()
                if now >= close_at:
                    return
                if now >= keepalive_at:
                    yield self._keepalive()
        finally:
            self._topic.remove_listener(self._wake_from_any_thread)
