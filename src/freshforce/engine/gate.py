"""The flow gate: asked before a batch runs whether its tenant's flow is paused.

A paused flow's jobs are put back in the queue, due again after ``FlowGate.wait`` seconds, with
their claim's attempt given back: nothing runs, nothing is written, no attempt is spent, and they
run once the flow is resumed. ``OPEN`` never pauses; ``freshforce.assist.breaker.UpdateBreaker``
pauses a flow whose writes burst past its baseline, and keeps an operator's pause.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["OPEN", "FlowGate"]


class FlowGate(Protocol):
    """Says whether a tenant's flow may run now."""

    @property
    def wait(self) -> float:
        """Seconds a paused flow's jobs wait before they are claimed (and asked about) again."""
        ...

    async def paused(self, tenant: str, flow: str) -> str | None:
        """Return why the tenant's flow is paused, or ``None`` when it may run."""
        ...


class _Open:
    wait = 0.0

    async def paused(self, tenant: str, flow: str) -> str | None:
        del tenant, flow
        return None


OPEN: FlowGate = _Open()
