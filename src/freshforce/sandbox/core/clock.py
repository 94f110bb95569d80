"""The sandbox clock: real time shifted by a per-server offset that tests can move."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

__all__ = ["SandboxClock"]


def _system_now() -> datetime:
    return datetime.now(UTC)


class SandboxClock:
    """Real time plus an offset; ``advance`` moves this server's time forward, never the host's.

    Every timestamp a sandbox writes and every expiry it checks reads ``now()``, so a test can make
    a token expire or a record look a day old without sleeping.
    """

    def __init__(self, source: Callable[[], datetime] = _system_now, offset: float = 0.0) -> None:
        self._source = source
        self._offset = offset
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Return the sandbox's current time, timezone-aware UTC."""
        with self._lock:
            offset = self._offset
        return self._source() + timedelta(seconds=offset)

    def timestamp(self) -> float:
        """Return ``now()`` as epoch seconds."""
        return self.now().timestamp()

    @property
    def offset(self) -> float:
        """Seconds this clock runs ahead of (positive) or behind (negative) the source."""
        with self._lock:
            return self._offset

    def set_offset(self, seconds: float) -> None:
        """Put the clock ``seconds`` away from the source time."""
        with self._lock:
            self._offset = seconds

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` (negative moves it back)."""
        with self._lock:
            self._offset += seconds
