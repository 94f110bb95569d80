"""What one poll of one stream did: the one result type both pollers return."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["PollResult"]


@dataclass(frozen=True)
class PollResult:
    """Pages and records read, records new to the store (events and jobs), the watermark."""

    stream: str
    pages: int
    read: int
    new: int
    watermark: datetime

    @property
    def duplicates(self) -> int:
        """Return the records re-read inside the overlap and dropped as already stored."""
        return self.read - self.new
