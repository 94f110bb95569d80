"""The update breaker: pauses a tenant's flow whose writes burst past that hour's usual.

Every few seconds per (tenant, flow), when the worker is about to run its jobs, the breaker
counts the records the flow wrote in the last ``window_minutes`` (the write log; created or
updated, each record once) and, past ``min_updates``, compares the count with the flow's usual
for this hour: the median of the records it wrote in the same hour of day on each of the last
``history_days`` days (zeros included, so a quiet hour stays quiet). More than ``factor`` times
that usual (scaled to the window) pauses the flow and raises the ``<flow>_update_breaker``
alert; a flow with less history than ``history_days`` has no usual yet and is never paused.
A paused flow's jobs wait in the queue, unattempted (engine/gate.py), until ``resume``; the
count after a resume starts at the resume, so the burst it stopped is not counted twice.
An operator may pause a flow by hand too (``freshforce flows pause``).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog

from freshforce.store.alerts import raise_alert, resolve_alerts
from freshforce.store.engine import reading
from freshforce.store.pauses import get_pause, list_pauses, pause_flow, resume_flow
from freshforce.store.queue import wake_flow
from freshforce.store.traffic import written_counts, wrote_before

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from freshforce.mapping import MapSet
    from freshforce.mapping.anomalies_schema import AnomaliesModel
    from freshforce.runtime import Runtime

__all__ = [
    "BREAKER",
    "UpdateBreaker",
    "UpdateBurst",
    "breaker_alert",
    "burst_finding",
    "burst_of",
    "pause",
    "resume",
    "update_breaker",
]

log = structlog.get_logger("freshforce.assist.breaker")
BREAKER = "update_breaker"  # who paused a flow the breaker paused


def breaker_alert(flow: str) -> str:
    """Return the alert kind a paused ``flow`` raises (resolved once no tenant's is paused)."""
    return f"{flow}_update_breaker"


@dataclass(frozen=True)
class UpdateBurst:
    """Where the update breaker trips for one flow."""

    factor: float = 10.0
    window_minutes: float = 15.0
    min_updates: int = 100
    history_days: int = 7
    enabled: bool = True


def burst_of(section: AnomaliesModel | None) -> UpdateBurst:
    """Return the update breaker's thresholds a flow map's ``anomalies:`` section sets."""
    if section is None:
        return UpdateBurst()
    u = section.update_burst
    return UpdateBurst(
        factor=u.factor,
        window_minutes=u.window_minutes,
        min_updates=u.min_updates,
        enabled="update_burst" not in section.disable,
    )


def burst_finding(flow: str, count: int, days: Sequence[int], burst: UpdateBurst) -> str | None:
    """Judge ``count`` records written in the window against the same hour of past ``days``."""
    usual = statistics.median(days) if days else 0.0
    share = burst.window_minutes / 60
    limit = max(float(burst.min_updates), burst.factor * usual * share)
    if count <= limit:
        return None
    return (
        f"a burst of writes: {count} records written on {flow} in the last "
        f"{burst.window_minutes:g} minutes, over the limit of {limit:g} ({burst.factor:g}x the "
        f"usual {usual:g} an hour at this time of day, median of {len(days)} days); "
        "the flow is paused until resumed"
    )


def _who(tenant: str) -> str:
    return "" if tenant == "default" else f"tenant {tenant}: "


async def pause(db: AsyncConnection, tenant: str, flow: str, *, reason: str, by: str) -> bool:
    """Pause the tenant's flow and raise its alert; ``False`` when it was paused already."""
    if not await pause_flow(db, tenant, flow, reason=reason, by=by):
        return False
    await raise_alert(
        db, kind=breaker_alert(flow), message=f"{_who(tenant)}{flow} paused: {reason}",
        now=datetime.now(UTC),
    )  # fmt: skip
    return True


async def resume(db: AsyncConnection, tenant: str, flow: str, *, by: str) -> bool:
    """Resume the tenant's flow; ``False`` when it was not paused.

    Its waiting jobs are due now; the alert is resolved once no tenant's ``flow`` stays paused.
    """
    if not await resume_flow(db, tenant, flow, by=by):
        return False
    await wake_flow(db, tenant=tenant, flow=flow)
    if not any(p.flow == flow for p in await list_pauses(db)):
        await resolve_alerts(
            db, kind=breaker_alert(flow), connection_id=None,
            notice_kind=f"{breaker_alert(flow)}_resolved",
            message=f"{_who(tenant)}{flow} resumed by {by}", now=datetime.now(UTC),
        )  # fmt: skip
    return True


@dataclass
class UpdateBreaker:
    """The worker's :class:`~freshforce.engine.gate.FlowGate`: stored pauses and the breaker.

    ``bursts`` holds each flow's thresholds (``(tenant, flow)`` for a tenant's own map, or the
    flow's name); a flow in neither gets the defaults. An answer is kept ``cache_seconds``.
    """

    engine: AsyncEngine
    bursts: Mapping[tuple[str, str] | str, UpdateBurst] = field(default_factory=dict)
    cache_seconds: float = 5.0
    wait: float = 30.0
    _cache: dict[tuple[str, str], tuple[float, str | None]] = field(
        init=False, default_factory=dict
    )

    def burst(self, tenant: str, flow: str) -> UpdateBurst:
        """Return the thresholds of the tenant's flow."""
        return self.bursts.get((tenant, flow)) or self.bursts.get(flow) or UpdateBurst()

    async def paused(self, tenant: str, flow: str) -> str | None:
        now = time.monotonic()
        cached = self._cache.get((tenant, flow))
        if cached is not None and cached[0] > now:
            return cached[1]
        reason = await self._look(tenant, flow)
        self._cache[(tenant, flow)] = (now + self.cache_seconds, reason)
        return reason

    async def _look(self, tenant: str, flow: str) -> str | None:
        """Read the pause and the counts (no write lock); pause only when the burst is found."""
        burst = self.burst(tenant, flow)
        async with reading(self.engine) as db:
            found = await get_pause(db, tenant, flow)
            if found is not None and found.paused:
                return found.reason
            if not burst.enabled:
                return None
            why = await _burst(db, tenant, flow, burst, None if found is None else found.resumed_at)
        if why is None:
            return None
        async with self.engine.begin() as db:
            await pause(db, tenant, flow, reason=why, by=BREAKER)
        log.warning("flow_paused", tenant=tenant, flow=flow, reason=why)
        return why


async def _burst(
    db: AsyncConnection, tenant: str, flow: str, burst: UpdateBurst, since: datetime | None
) -> str | None:
    """Return the burst finding of the tenant's flow now, or ``None``."""
    window = burst.window_minutes * 60
    count, _ = await written_counts(db, tenant, flow, window=window, after=since)
    if count <= burst.min_updates:
        return None
    if not await wrote_before(db, tenant, flow, burst.history_days * 86_400.0):
        return None  # no usual to compare with yet
    _, days = await written_counts(
        db, tenant, flow, window=window, after=since, days=burst.history_days
    )
    return burst_finding(flow, count, days, burst)


def update_breaker(
    runtime: Runtime, maps: MapSet, tenant_maps: Mapping[str, MapSet] | None = None
) -> UpdateBreaker:
    """Return the breaker with each flow map's thresholds (a tenant's own maps for its flows).

    ``tenant_maps`` defaults to the tenants' directories, as ``builtin_flows`` reads them.
    """
    from freshforce.mapping.tenants import load_tenant_maps  # noqa: PLC0415 - as builtin_flows

    if tenant_maps is None:
        tenant_maps = load_tenant_maps(runtime.settings.config_dir, profile=maps.profile)
    bursts: dict[tuple[str, str] | str, UpdateBurst] = {
        name: burst_of(m.anomalies) for name, m in maps.flows.items()
    }
    for tenant, theirs in tenant_maps.items():
        bursts |= {(tenant, name): burst_of(m.anomalies) for name, m in theirs.flows.items()}
    return UpdateBreaker(runtime.engine, bursts)
