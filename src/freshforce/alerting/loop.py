"""The alert timer: every interval, evaluate the rules and deliver what changed.

Any number of dashboards may run; the one holding the ``alerts`` lease does the round, so rules
are evaluated once per interval, not once per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

import structlog

from freshforce.alerting.deliver import Deliveries, deliver_alerts
from freshforce.alerting.evaluate import AlertChanges, evaluate_alerts
from freshforce.store.lease import acquire_lease

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncEngine

    from freshforce.alerting.channels import Channel
    from freshforce.alerting.rules import AlertRule

__all__ = ["LEASE_NAME", "AlertTimer"]

LEASE_NAME = "alerts"
_log = structlog.get_logger(__name__)


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class AlertTimer:
    """Evaluate ``rules`` and deliver to ``channels`` every ``interval`` seconds."""

    engine: AsyncEngine
    clock: Callable[[], datetime]
    rules: Sequence[AlertRule]
    channels: Sequence[Channel]
    interval: float
    dashboard_url: str = ""
    holder: str = field(default_factory=_holder)

    async def round(self) -> tuple[AlertChanges, Deliveries] | None:
        """Run one round if this process holds the lease; ``None`` when another one does."""
        ttl = timedelta(seconds=max(self.interval * 3, 30.0))
        async with self.engine.begin() as db:
            if not await acquire_lease(db, LEASE_NAME, self.holder, ttl=ttl):
                return None
        changes = await evaluate_alerts(self.engine, self.clock, self.rules)
        sent = await deliver_alerts(
            self.engine, self.clock, self.channels, dashboard_url=self.dashboard_url
        )
        if changes.opened or changes.resolved or sent.sent or sent.retry:
            _log.info(
                "alerts_round",
                opened=changes.opened,
                resolved=changes.resolved,
                sent=sent.sent,
                retry=sent.retry,
            )
        return changes, sent

    async def run(self, stop: asyncio.Event) -> None:
        """Run rounds until ``stop`` is set; a failed round is logged and the next one runs."""
        while not stop.is_set():
            try:
                await self.round()
            except Exception:  # noqa: BLE001 - the timer outlives one bad round; it is logged
                _log.exception("alerts_round_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
