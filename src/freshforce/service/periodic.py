"""Periodic tasks a service runs besides intake: the reconciler's hooks.

``reconcile_tasks`` is where ``freshforce run`` finds what to run every
``reconcile_interval_seconds``: one :class:`Periodic` per check (for example one per flow and
tenant). The scheduler logs a failing run and runs it again at its next tick.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from freshforce.mapping import MapSet
    from freshforce.runtime import Runtime
    from freshforce.service.scheduler import TaskFn

__all__ = ["Periodic", "reconcile_tasks"]


@dataclass(frozen=True)
class Periodic:
    """A task to run every ``seconds`` under ``name`` (unique within one service)."""

    name: str
    seconds: float
    fn: TaskFn
    at_start: bool = False


def reconcile_tasks(runtime: Runtime, maps: MapSet, flows: Collection[str]) -> list[Periodic]:
    """Return the reconcile checks of the running ``flows`` (none are built yet)."""
    del runtime, maps, flows
    return []
