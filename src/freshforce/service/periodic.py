"""Periodic tasks a service runs besides intake: the reconciler's hooks.

``reconcile_tasks`` is where ``freshforce run`` finds what to run every
``reconcile_interval_seconds``: one :class:`Periodic` per check (for example one per flow and
tenant). The scheduler logs a failing run and runs it again at its next tick.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from freshforce.mapping import MapSet
    from freshforce.runtime import Runtime
    from freshforce.service.scheduler import TaskFn

__all__ = ["Periodic", "reconcile_tasks"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Periodic:
    """A task to run every ``seconds`` under ``name`` (unique within one service)."""

    name: str
    seconds: float
    fn: TaskFn
    at_start: bool = False


def reconcile_tasks(
    runtime: Runtime, maps: MapSet, flows: Collection[str], *, tenant: str = "default"
) -> list[Periodic]:
    """Return the reconcile checks of the running ``flows``: the clients flow's, repairing.

    Each run compares both systems for every link, logs the drift it found per object and
    enqueues the jobs that fix it (they coalesce with any already waiting).
    """
    if "clients" not in flows or "clients" not in maps.flows:
        return []
    flow = maps["clients"]

    async def clients() -> None:
        from freshforce.flows.clients_bulk import reconcile  # noqa: PLC0415 - heavy, run-time only

        pair = await runtime.pair(tenant)
        drift = await reconcile(flow, pair, runtime.engine, tenant=tenant, queue=runtime.queue())
        log.info("reconcile_done", flow="clients", tenant=tenant, drift=dict(drift.counts))

    seconds = runtime.settings.reconcile_interval_seconds
    return [Periodic(f"reconcile:clients:{tenant}", seconds, clients)]
