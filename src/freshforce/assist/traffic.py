"""Traffic findings: change volume against the same hour of the week, and webhook silence.

Each is a few lines of statistics with one plain sentence, evaluated by the alert loop
(``alerting/``, rule kinds ``volume`` and ``webhook_silence``) on the ``events`` table:

- volume: the changes of the last hour against the median of the same hour of the week over
  the previous weeks (at least two with traffic); ``factor`` times more (and at least 20 more),
  or that many times fewer (a drop, when the hour usually brings 30 or more), is a finding;
- webhook silence: no webhook for ``factor`` times the gap the hour's usual rate predicts (and
  at least ten minutes), or changes the poller found that no webhook delivered.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from freshforce.store.traffic import event_systems, hour_counts, last_webhook, missed_by_webhooks

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["missed_finding", "silence_finding", "traffic_findings", "volume_finding"]

_MIN_WEEKS = 2
_DROP_FLOOR = 30  # a drop counts only where the hour usually brings this many changes
_RISE_FLOOR = 20  # a rise of fewer records than this over the usual is never a finding
_MIN_SILENCE = 600.0  # seconds: shorter silences are never findings


def _hour(now: datetime) -> str:
    start = now - timedelta(hours=1)
    return f"{start:%A}s {start:%H:%M}-{now:%H:%M}"


def volume_finding(
    system: str, now: datetime, count: int, weeks: Sequence[int], factor: float
) -> str | None:
    """Judge ``count`` changes in the hour before ``now`` against the same hour of past weeks."""
    past = [w for w in weeks if w > 0]
    if len(past) < _MIN_WEEKS:
        return None
    usual = statistics.median(past)
    basis = f"the usual {usual:g} for {_hour(now)} (median of {len(past)} weeks)"
    if count >= factor * usual and count - usual >= _RISE_FLOOR:
        return f"{count} {system} changes in the last hour, {count / usual:.1f}x {basis}"
    if usual >= _DROP_FLOOR and count * factor <= usual:
        return f"a drop: {count} {system} changes in the last hour against {basis}"
    return None


def silence_finding(
    system: str, now: datetime, last: datetime | None, weeks: Sequence[int], factor: float
) -> str | None:
    """Judge the time since the last webhook against the hour's usual webhook rate."""
    past = [w for w in weeks if w > 0]
    if last is None or len(past) < _MIN_WEEKS:
        return None
    rate = statistics.median(past)  # webhooks in this hour of the week, usually
    gap = 3600.0 / rate
    quiet = (now - last).total_seconds()
    if quiet < max(_MIN_SILENCE, factor * gap):
        return None
    return (
        f"no {system} webhook for {quiet / 60:.0f} minutes; {_hour(now)} usually brings "
        f"{rate:g} (one every {gap / 60:.1f} minutes)"
    )


def missed_finding(system: str, missed: Sequence[str]) -> str | None:
    """Judge the records the poller found changed with no webhook about them."""
    if not missed:
        return None
    shown = ", ".join(sorted(missed)[:3]) + (" ..." if len(missed) > 3 else "")  # noqa: PLR2004
    return (
        f"the poller found {len(missed)} {system} changes no webhook delivered ({shown}): "
        "webhooks may be lost"
    )


async def traffic_findings(
    db: AsyncConnection, kind: str, now: datetime, *, factor: float
) -> list[str]:
    """Return every tenant's and system's ``volume`` or ``webhook_silence`` findings at ``now``."""
    found: list[str | None] = []
    for tenant, system in await event_systems(db):
        who = system if tenant == "default" else f"{tenant} {system}"
        if kind == "volume":
            count, weeks = await hour_counts(db, tenant, system, now)
            found.append(volume_finding(who, now, count, weeks, factor))
            continue
        _, webhooks = await hour_counts(db, tenant, system, now, sources=("webhook",))
        last = await last_webhook(db, tenant, system, now)
        found.append(silence_finding(who, now, last, webhooks, factor))
        if last is not None:  # a system that has webhooks at all
            found.append(missed_finding(who, await missed_by_webhooks(db, tenant, system, now)))
    return [f for f in found if f]
