"""API-call counter: how many remote calls each connection made, for budgets and benchmarks."""

from __future__ import annotations

import threading
from collections import Counter

__all__ = ["CallCounter"]


class CallCounter:
    """Counts remote calls per connection id; one instance is built per process and passed in."""

    def __init__(self) -> None:
        self._calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def record(self, connection_id: str) -> None:
        """Count one call that reached the remote (retries count again)."""
        with self._lock:
            self._calls[connection_id] += 1

    def calls(self, connection_id: str) -> int:
        """Return how many calls ``connection_id`` has made so far."""
        with self._lock:
            return self._calls[connection_id]

    def snapshot(self) -> dict[str, int]:
        """Return every connection's count, for metrics and the dashboard."""
        with self._lock:
            return dict(self._calls)
