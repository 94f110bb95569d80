"""The lease keeper: keeps a stream's lease on a timer, whatever the traffic; stops work it lost.

``guard(work)`` runs ``work`` while a background loop renews the lease every ``interval``
(a third of the TTL by default). A renewal the store refuses (another holder, or expired) cancels
``work`` and raises ``LeaseLostError``; a renewal that fails with a database error is retried on
the next tick, until the lease would have expired. Each commit renews it too (``renew``), in the
same transaction as the work it guards, so nothing commits once the lease is gone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, TypeVar

import structlog
from sqlalchemy.exc import SQLAlchemyError

from freshforce.errors import LeaseLostError
from freshforce.store.lease import acquire_lease, release_lease, renew_lease

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from freshforce.clock import Clock
    from freshforce.intake.stream import Stream

__all__ = ["LeaseKeeper"]

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
log = structlog.get_logger("freshforce.intake.lease")


class LeaseKeeper:
    """Takes, keeps and gives up the lease of one stream for one holder."""

    def __init__(
        self,
        engine: AsyncEngine,
        stream: Stream,
        *,
        holder: str,
        ttl: timedelta,
        clock: Clock,
        interval: float | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if ttl <= timedelta(0):
            msg = f"lease TTL of {stream.lease_name} must be > 0, got {ttl}"
            raise ValueError(msg)
        self.engine = engine
        self.stream = stream
        self.holder = holder
        self.ttl = ttl
        self.interval = interval if interval is not None else ttl.total_seconds() / 3
        self._clock = clock
        self._sleep = sleep
        self.renewals = 0

    @property
    def name(self) -> str:
        """Return the lease's name (``<connection>/<stream>``)."""
        return self.stream.lease_name

    async def acquire(self) -> bool:
        """Take the lease if it is free, expired or already ours; ``False`` means stand aside."""
        async with self.engine.begin() as db:
            return await acquire_lease(db, self.name, self.holder, ttl=self.ttl)

    async def renew(self, db: AsyncConnection) -> None:
        """Extend the lease inside ``db``'s transaction; raise ``LeaseLostError`` when lost."""
        if not await renew_lease(db, self.name, self.holder, ttl=self.ttl):
            log.warning("lease_lost", lease=self.name, holder=self.holder)
            msg = f"lost the lease {self.name}; another process took the stream over"
            raise LeaseLostError(msg)
        self.renewals += 1

    async def release(self) -> None:
        """Give the lease up if still ours (on a clean stop)."""
        async with self.engine.begin() as db:
            await release_lease(db, self.name, self.holder)

    async def guard(self, work: Awaitable[T]) -> T:
        """Await ``work`` while renewing on a timer; cancel it if the lease is lost."""
        task = asyncio.ensure_future(work)
        keeper = asyncio.ensure_future(self._keep())
        try:
            await asyncio.wait({task, keeper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pending in (task, keeper):
                if not pending.done():
                    pending.cancel()
            await asyncio.gather(task, keeper, return_exceptions=True)
        if task.done() and not task.cancelled():
            return task.result()  # the work's value, or its own error
        lost = keeper.exception() if keeper.done() and not keeper.cancelled() else None
        if lost is not None:
            raise lost
        return task.result()  # cancelled from outside: raises CancelledError

    async def _keep(self) -> None:
        last = self._clock()
        while True:
            await self._sleep(self.interval)
            try:
                async with self.engine.begin() as db:
                    await self.renew(db)
                last = self._clock()
            except (SQLAlchemyError, OSError) as exc:
                if self._clock() - last >= self.ttl:
                    msg = f"could not renew the lease {self.name} before it expired: {exc}"
                    raise LeaseLostError(msg) from exc
                log.warning("lease_renewal_failed", lease=self.name, error=type(exc).__name__)
