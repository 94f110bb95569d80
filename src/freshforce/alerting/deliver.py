"""Deliver alerts: each stored alert and recovery notice once, to every channel.

An alert is claimed (marked delivered) before it is sent, so two processes never both send it.
When every channel fails it is handed back and the next round tries again; when at least one
delivered it, it stays delivered and the failures are logged (``alert_delivery_failed``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from freshforce.alerting.channels import Channel, DeliveryError, Notice
from freshforce.store.alerts import Alert, claim_undelivered, release_delivery

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["Deliveries", "deliver_alerts"]

_log = structlog.get_logger(__name__)


@dataclass
class Deliveries:
    """What one round did: alert ids sent, and ids handed back for the next round."""

    sent: list[int] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)


async def deliver_alerts(
    engine: AsyncEngine,
    clock: Callable[[], datetime],
    channels: Sequence[Channel],
    *,
    dashboard_url: str = "",
) -> Deliveries:
    """Send every undelivered alert to ``channels`` (none: alerts show on the dashboard only)."""
    done = Deliveries()
    if not channels:
        return done
    async with engine.begin() as db:
        claimed = await claim_undelivered(db, now=clock())
    for alert in claimed:
        notice = _notice(alert, dashboard_url)
        if await _send(notice, channels):
            done.sent.append(alert.id)
        else:
            done.retry.append(alert.id)
    if done.retry:
        async with engine.begin() as db:
            await release_delivery(db, done.retry)
    return done


async def _send(notice: Notice, channels: Sequence[Channel]) -> bool:
    delivered = False
    for channel in channels:
        try:
            await channel.send(notice)
        except DeliveryError as exc:
            _log.warning(
                "alert_delivery_failed",
                alert_id=notice.alert_id,
                channel=channel.name,
                error=str(exc),
            )
        else:
            delivered = True
            _log.info("alert_delivered", alert_id=notice.alert_id, channel=channel.name)
    return delivered


def _notice(alert: Alert, dashboard_url: str) -> Notice:
    return Notice(
        alert_id=alert.id,
        severity=alert.severity,
        kind=alert.kind,
        message=alert.message,
        at=alert.at.isoformat(),
        connection_id=alert.connection_id,
        resolved=alert.kind.endswith(("_resolved", "_recovered")),
        dashboard_url=dashboard_url,
    )
