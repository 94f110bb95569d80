"""What the Pub/Sub listeners share: one leased stream, resubscribed until stopped.

:class:`~freshforce.intake.cdc.CdcSubscriber` (change events) and
:class:`~freshforce.intake.event_subscriber.EventSubscriber` (platform events) differ only in
what one subscription yields and how a batch of it is stored. Both hold the lease of their
stream on a timer (:class:`~freshforce.intake.lease.LeaseKeeper`), close the stream before
anything more commits when the lease is lost, resubscribe from the stored replay id after an
error with jittered backoff, refresh the token first after an auth error, and start again
elsewhere when Salesforce says the stored replay id is past retention.
"""

from __future__ import annotations

import asyncio
import random
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, ClassVar

import grpc
import structlog

from freshforce.backoff import full_jitter
from freshforce.connectors.salesforce.pubsub import (
    AUTH_ERROR,
    REPLAY_CORRUPTED,
    PubSubClient,
    error_code,
    status_code,
)
from freshforce.errors import LeaseLostError, TransientError
from freshforce.intake.commit import Batch, commit
from freshforce.intake.lease import LeaseKeeper

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from freshforce.clock import Clock
    from freshforce.engine.queue import JobQueue
    from freshforce.intake.stream import Stream

__all__ = ["ListenerTiming", "PubSubListener", "Sleep"]

Sleep = Callable[[float], Awaitable[None]]
log = structlog.get_logger("freshforce.intake.listener")


@dataclass(frozen=True)
class ListenerTiming:
    """How a listener waits after errors and how long its lease lasts."""

    backoff_base: float
    backoff_cap: float
    lease_ttl: timedelta
    lease_renew_every: float | None = None  # seconds; default a third of the TTL


class PubSubListener(ABC):
    """One leased Pub/Sub stream of one connection, stored batch by batch."""

    failed_event: ClassVar[str]  # the log event of a failed subscription

    def __init__(
        self,
        client: PubSubClient,
        engine: AsyncEngine,
        queue: JobQueue,
        *,
        stream: Stream,
        timing: ListenerTiming,
        holder: str,
        clock: Clock,
        rng: random.Random,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.client = client
        self.engine = engine
        self.queue = queue
        self._timing = timing
        self._clock = clock
        self._rng = rng
        self._sleep = sleep
        self.errors: list[str] = []
        self.keeper = LeaseKeeper(
            engine,
            stream,
            holder=holder,
            ttl=timing.lease_ttl,
            clock=clock,
            interval=timing.lease_renew_every,
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
            raise LeaseLostError(msg, retry_after=self._timing.lease_ttl.total_seconds())
        try:
            await self.keeper.guard(self._listen(stop))
        finally:
            await self.keeper.release()

    @abstractmethod
    async def _subscribe_once(self) -> None:
        """Subscribe from the stored position and store what arrives until the stream ends."""

    @abstractmethod
    async def _lost_position(self) -> None:
        """Start again: Salesforce no longer retains the stored replay id."""

    async def _commit(self, batch: Batch) -> None:
        await commit(self.engine, self.queue, batch, keeper=self.keeper, now=self._clock())

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
        self.errors.append(code or type(error).__name__)
        log.warning(self.failed_event, stream=self.stream, error_code=code, attempt=failures)
        if code == REPLAY_CORRUPTED:
            await self._lost_position()
            return
        if code == AUTH_ERROR or status_code(error) == grpc.StatusCode.UNAUTHENTICATED:
            await self.client.refresh_auth()
            return
        if not isinstance(error, grpc.aio.AioRpcError | TransientError):
            raise error
        timing = self._timing
        await self._sleep(full_jitter(failures, timing.backoff_base, timing.backoff_cap, self._rng))
