"""API budget governor: admits Salesforce calls by priority so the org's daily allocation lasts.

Every counted REST answer carries ``Sforce-Limit-Info: api-usage=USED/MAX``; the client feeds it to
``observe``. Before a call, ``admit(org, priority)`` returns at once while the calls left stay above
that priority's floor, and otherwise waits (up to ``max_wait``) for the figures to improve or
raises ``TransientError`` with ``retry_after``. Floors rise as priority falls (payments <
invoices < clients < backfill), so backfill stops first and a configured reserve is never spent
by anything. ``snapshot`` gives the dashboard the figures.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum

from freshforce.clock import Clock
from freshforce.errors import TransientError

__all__ = ["BudgetSnapshot", "Governor", "GovernorConfig", "Priority", "parse_limit_info"]

_API_USAGE = re.compile(r"(?:^|[;,\s])api-usage=(\d+)/(\d+)")


class Priority(IntEnum):
    """Traffic classes, most important first."""

    PAYMENTS = 0
    INVOICES = 1
    CLIENTS = 2
    BACKFILL = 3


def parse_limit_info(header: str) -> tuple[int, int] | None:
    """Return ``(used, max)`` from a ``Sforce-Limit-Info`` value, or None without api-usage."""
    found = _API_USAGE.search(header)
    return (int(found.group(1)), int(found.group(2))) if found else None


@dataclass(frozen=True)
class GovernorConfig:
    """How many calls stay untouched, and how far apart the priority floors sit.

    The floor of a priority is ``reserve + step * priority``, where ``step`` is
    ``step_fraction`` of the org's maximum: with 15,000 calls, a reserve of 500 and 5 %,
    backfill waits below 2,750 calls left, payments only below 500.
    """

    reserve: int = 500
    step_fraction: float = 0.05
    retry_after: float = 300.0

    def __post_init__(self) -> None:
        if self.reserve < 0:
            msg = f"governor reserve must be >= 0 calls, got {self.reserve}"
            raise ValueError(msg)
        if not 0.0 <= self.step_fraction < 1.0 / len(Priority):
            msg = f"governor step_fraction must be within 0..0.25, got {self.step_fraction}"
            raise ValueError(msg)

    def floor(self, priority: Priority, max_calls: int) -> int:
        return self.reserve + int(self.step_fraction * max_calls) * int(priority)


@dataclass(frozen=True)
class BudgetSnapshot:
    """One org's budget as last seen, for the dashboard and metrics."""

    org_id: str
    used: int
    max_calls: int
    remaining: int
    reserve: int
    observed_at: datetime | None
    floors: dict[str, int]
    admitted: dict[str, int]
    deferred: dict[str, int]


@dataclass
class _Org:
    used: int = 0
    max_calls: int = 0
    observed_at: datetime | None = None
    admitted: dict[Priority, int] = field(default_factory=lambda: dict.fromkeys(Priority, 0))
    deferred: dict[Priority, int] = field(default_factory=lambda: dict.fromkeys(Priority, 0))
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def remaining(self) -> int:
        return max(self.max_calls - self.used, 0)


class Governor:
    """The budget of every org this process talks to; one instance, passed to each client."""

    def __init__(self, config: GovernorConfig, *, clock: Clock) -> None:
        self.config = config
        self._clock = clock
        self._orgs: dict[str, _Org] = {}

    def _org(self, org_id: str) -> _Org:
        return self._orgs.setdefault(org_id, _Org())

    def observe(self, org_id: str, limit_info: str) -> None:
        """Record a ``Sforce-Limit-Info`` header; a value without api-usage is ignored."""
        parsed = parse_limit_info(limit_info)
        if parsed is None:
            return
        org = self._org(org_id)
        org.used, org.max_calls = parsed
        org.observed_at = self._clock()
        self._wake(org)

    def exhausted(self, org_id: str) -> None:
        """Record a 403 REQUEST_LIMIT_EXCEEDED: nothing is left until figures say otherwise."""
        org = self._org(org_id)
        org.used = max(org.used, org.max_calls)
        org.observed_at = self._clock()

    def _wake(self, org: _Org) -> None:
        org.changed.set()
        org.changed = asyncio.Event()

    def _allows(self, org: _Org, priority: Priority) -> bool:
        if org.max_calls == 0:  # nothing observed yet: the first answer tells us
            return True
        return org.remaining > self.config.floor(priority, org.max_calls)

    async def admit(self, org_id: str, priority: Priority, *, max_wait: float = 0.0) -> None:
        """Return when a call of ``priority`` may run; raise ``TransientError`` if it may not.

        Admission counts the call against the local figures at once, so concurrent callers do
        not all slip through between two headers.
        """
        org = self._org(org_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_wait
        while not self._allows(org, priority):
            left = deadline - loop.time()
            if left <= 0:
                org.deferred[priority] += 1
                floor = self.config.floor(priority, org.max_calls)
                msg = (
                    f"Salesforce API budget of org {org_id}: {org.remaining} calls left, "
                    f"{priority.name.lower()} traffic waits below {floor}"
                )
                raise TransientError(msg, retry_after=self.config.retry_after, system="salesforce")
            changed = org.changed
            try:
                await asyncio.wait_for(changed.wait(), timeout=left)
            except TimeoutError:
                continue
        org.admitted[priority] += 1
        if org.max_calls:
            org.used += 1

    def org_ids(self) -> list[str]:
        """Return the orgs this process has heard from, sorted."""
        return sorted(org for org, state in self._orgs.items() if state.max_calls)

    def snapshot(self, org_id: str) -> BudgetSnapshot:
        """Return the figures of one org (zeros before its first answer)."""
        org = self._org(org_id)
        return BudgetSnapshot(
            org_id=org_id,
            used=org.used,
            max_calls=org.max_calls,
            remaining=org.remaining,
            reserve=self.config.reserve,
            observed_at=org.observed_at,
            floors={p.name.lower(): self.config.floor(p, org.max_calls) for p in Priority},
            admitted={p.name.lower(): n for p, n in org.admitted.items()},
            deferred={p.name.lower(): n for p, n in org.deferred.items()},
        )
