"""Retry policy for remote calls: capped exponential backoff, full jitter, Retry-After honoured.

The policy is a value handed to each connector, so a test passes ``CallRetryPolicy.immediate()``
instead of flipping a global switch. ``delay`` returns how long to wait before the next attempt,
or ``None`` when the attempts or the total time budget are spent.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from freshforce.backoff import full_jitter

__all__ = ["CallRetryPolicy", "retry_after_seconds"]


@dataclass(frozen=True)
class CallRetryPolicy:
    """How often and how patiently a transient failure is retried.

    ``attempts`` counts every try, the first included. The wait before try ``n + 1`` is drawn
    uniformly from ``[0, min(cap, base * 2**(n-1))]`` (full jitter); a remote ``Retry-After`` is
    honoured as a floor, but a hint longer than ``max_retry_after`` or one that would overrun
    ``total_seconds`` ends the retries instead, so the job queue waits rather than a connection.
    """

    attempts: int = 4
    base_seconds: float = 0.5
    cap_seconds: float = 30.0
    total_seconds: float = 60.0
    max_retry_after: float = 60.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            msg = f"CallRetryPolicy.attempts must be at least 1, got {self.attempts}"
            raise ValueError(msg)

    @classmethod
    def immediate(cls, attempts: int = 4) -> CallRetryPolicy:
        """Build a policy without backoff (tests pair it with a recording ``sleep``)."""
        return cls(attempts=attempts, base_seconds=0.0, cap_seconds=0.0, max_retry_after=3600.0)

    def delay(self, attempt: int, elapsed: float, retry_after: float | None) -> float | None:
        """Seconds to wait after failed try number ``attempt`` (1-based), or ``None`` to stop."""
        if attempt >= self.attempts:
            return None
        if retry_after is not None and retry_after > self.max_retry_after:
            return None
        wait = full_jitter(attempt, self.base_seconds, self.cap_seconds, self.rng)
        if retry_after is not None:
            wait = max(wait, retry_after)
        if elapsed + wait > self.total_seconds:
            return None
        return wait


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Read a ``Retry-After`` header: delta seconds or an HTTP date; ``None`` when absent or bad."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
