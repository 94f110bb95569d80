"""The write guard: the one hook a flow calls before a remote write, to hold or flag it.

A flow describes the write it is about to make as a :class:`PlannedWrite` (tenant, flow,
record key, the group whose history it is judged against, its amounts and labels) and asks its
guard. ``HOLD`` means: do not write, the change waits for review with the verdict's reason
(the flow reports the job skipped); ``FLAG`` and ``PROCEED`` write. A delete (``delete=True``)
is judged by how many deletes the flow made lately: a burst pauses the flow's deletes. Facts
only the flow can see (a payment above what is outstanding, a second invoice for one deal)
come as ``findings``, each named by its rule so a flow map can switch it off.
``NO_GUARD`` lets every write through; ``freshforce.assist.guard.BaselineGuard`` is the guard
that learns baselines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

__all__ = ["NO_GUARD", "Finding", "Guarded", "PlannedWrite", "Verdict", "WriteGuard"]


class Guarded(StrEnum):
    """What the guard says about a planned write."""

    PROCEED = "proceed"
    FLAG = "flag"  # written, and shown for a look
    HOLD = "hold"  # not written until someone accepts it


@dataclass(frozen=True)
class Finding:
    """One finding: the rule that made it, hold or flag, and one plain sentence."""

    rule: str  # e.g. "payment_over_outstanding"; an ``anomalies:`` section may disable it
    action: Guarded
    text: str


@dataclass(frozen=True)
class PlannedWrite:
    """A write a flow is about to make, as the guard judges it."""

    tenant: str
    flow: str
    record_key: str
    group: str  # whose history it is compared with, e.g. the FreshBooks client id
    amounts: Mapping[str, Decimal] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)  # e.g. {"currency": "CAD"}
    delete: bool = False  # a delete or archive: judged by the flow's burst breaker
    findings: tuple[Finding, ...] = ()  # what the flow found itself (hard rules)
    details: Mapping[str, str] = field(default_factory=dict)  # shown and compared, not judged


@dataclass(frozen=True)
class Verdict:
    """The guard's answer and, unless it proceeds, one plain sentence per finding."""

    action: Guarded
    reasons: tuple[str, ...] = ()

    @property
    def held(self) -> bool:
        return self.action is Guarded.HOLD


class WriteGuard(Protocol):
    """Judges planned writes; flows call it right before writing."""

    async def check(self, write: PlannedWrite) -> Verdict:
        """Return whether ``write`` may go ahead."""
        ...


class _NoGuard:
    async def check(self, write: PlannedWrite) -> Verdict:
        del write
        return Verdict(Guarded.PROCEED)


NO_GUARD: WriteGuard = _NoGuard()
