"""FreshBooks time on the wire → UTC: naive US/Eastern datetimes, and the day filters they need."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

__all__ = ["eastern_day", "from_eastern", "from_utc_naive"]

_EASTERN = ZoneInfo("America/New_York")
_FORMAT = "%Y-%m-%d %H:%M:%S"


def from_eastern(text: str) -> datetime:
    """Read ``YYYY-MM-DD HH:MM:SS`` as US/Eastern (EST or EDT) and return it in UTC.

    In the hour repeated when daylight saving ends, the earlier (EDT) reading is taken.
    """
    try:
        naive = datetime.strptime(text, _FORMAT)  # noqa: DTZ007 - zone attached next line
    except ValueError as exc:
        msg = f"not a FreshBooks datetime (YYYY-MM-DD HH:MM:SS): {text!r}"
        raise ValueError(msg) from exc
    return naive.replace(tzinfo=_EASTERN).astimezone(UTC)


def from_utc_naive(text: str) -> datetime:
    """Read a naive UTC ``YYYY-MM-DD HH:MM:SS`` (client ``signup_date``)."""
    return datetime.strptime(text, _FORMAT).replace(tzinfo=UTC)


def eastern_day(moment: datetime) -> date:
    """Return the US/Eastern calendar day an instant falls on (what ``updated_min`` compares)."""
    return moment.astimezone(_EASTERN).date()
