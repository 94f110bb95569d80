"""The one clock type: a callable returning the current aware UTC time, passed in, never global.

Business rules, pollers, the governor and token expiry take a :data:`Clock` so tests can hold
time still or move it. Lease expiry and due times of jobs are decided by the database's clock
instead (docs/architecture.md), so no process's clock decides for another.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "system_clock"]

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """Return the machine's current time in UTC."""
    return datetime.now(UTC)
