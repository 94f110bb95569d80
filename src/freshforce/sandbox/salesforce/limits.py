"""The org's daily API allocation: a rolling 24-hour count of calls that can run out.

Each counted REST call is charged here; once the maximum is reached, calls fail with 403
REQUEST_LIMIT_EXCEEDED until old calls leave the window. ``header()`` is the
``Sforce-Limit-Info`` value and ``snapshot()`` feeds ``GET limits/``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from freshforce.sandbox.salesforce.errors import request_limit_exceeded

__all__ = ["ApiAllocation"]

Clock = Callable[[], datetime]
WINDOW = timedelta(hours=24)


@dataclass
class ApiAllocation:
    """A rolling-window counter of API calls with a configurable maximum."""

    clock: Clock
    max_calls: int = 15_000
    _calls: deque[datetime] = field(default_factory=deque)

    def _prune(self) -> None:
        horizon = self.clock() - WINDOW
        while self._calls and self._calls[0] <= horizon:
            self._calls.popleft()

    def charge(self) -> None:
        """Count one call, or raise REQUEST_LIMIT_EXCEEDED when none are left."""
        self._prune()
        if len(self._calls) >= self.max_calls:
            raise request_limit_exceeded()
        self._calls.append(self.clock())

    def used(self) -> int:
        self._prune()
        return len(self._calls)

    def remaining(self) -> int:
        return max(self.max_calls - self.used(), 0)

    def header(self) -> str:
        """Return the ``Sforce-Limit-Info`` header value, e.g. ``api-usage=18/15000``."""
        return f"api-usage={self.used()}/{self.max_calls}"

    def exhaust(self) -> None:
        """Use up what is left of the allocation (fault drills)."""
        self._prune()
        now = self.clock()
        self._calls.extend(now for _ in range(self.max_calls - len(self._calls)))

    def set_used(self, calls: int) -> None:
        """Pretend ``calls`` calls were made just now (the window forgets them in 24 hours)."""
        self._calls.clear()
        now = self.clock()
        self._calls.extend(now for _ in range(calls))

    def reset(self, max_calls: int | None = None) -> None:
        """Forget every call, optionally with a new maximum."""
        self._calls.clear()
        if max_calls is not None:
            self.max_calls = max_calls
