"""Login rate limit: after too many failures in a window, a name or an address must wait.

Counts live in the process; behind a load balancer each dashboard counts for itself.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable
from datetime import datetime, timedelta

__all__ = ["LoginLimiter"]


class LoginLimiter:
    """At most ``max_failures`` failed logins per key within ``window``."""

    def __init__(
        self,
        *,
        clock: Callable[[], datetime],
        max_failures: int = 5,
        window: timedelta = timedelta(minutes=5),
    ) -> None:
        self._clock = clock
        self._max = max_failures
        self._window = window
        self._failures: defaultdict[str, deque[datetime]] = defaultdict(deque)

    def __len__(self) -> int:
        return len(self._failures)

    def _recent(self, key: str) -> deque[datetime]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        cutoff = self._clock() - self._window
        while times and times[0] <= cutoff:
            times.popleft()
        if not times:
            del self._failures[key]  # forget quiet keys, so random names cannot grow the table
        return times

    def retry_after(self, *keys: str) -> float | None:
        """Return the seconds to wait when any key is over the limit, else None."""
        waits = []
        for key in keys:
            times = self._recent(key)
            if len(times) >= self._max:
                waits.append((times[0] + self._window - self._clock()).total_seconds())
        return max(waits, default=None)

    def failed(self, *keys: str) -> None:
        """Count one failed login against each key."""
        now = self._clock()
        for key in keys:
            self._recent(key)
            self._failures[key].append(now)

    def succeeded(self, key: str) -> None:
        """Forget the failures of ``key`` after a good login."""
        self._failures.pop(key, None)
