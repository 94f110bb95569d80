"""FreshBooks time on the wire: naive US/Eastern datetimes, naive UTC for a few fields, dates."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

__all__ = ["eastern", "eastern_date", "utc_naive"]

_EASTERN = ZoneInfo("America/New_York")
_FORMAT = "%Y-%m-%d %H:%M:%S"


def eastern(moment: datetime) -> str:
    """Render an aware instant as FreshBooks' naive Eastern ``YYYY-MM-DD HH:MM:SS``."""
    return moment.astimezone(_EASTERN).strftime(_FORMAT)


def eastern_date(moment: datetime) -> str:
    """Return the Eastern calendar day of an instant, ``YYYY-MM-DD``."""
    return moment.astimezone(_EASTERN).date().isoformat()


def utc_naive(moment: datetime) -> str:
    """Render an aware instant as naive UTC (client ``signup_date``)."""
    return moment.astimezone(UTC).strftime(_FORMAT)
