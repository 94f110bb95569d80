"""Salesforce's wire formats for date and datetime values: parse what clients send, emit ours.

Datetimes go out as ``2013-05-20T20:49:32.000+0000`` (UTC, milliseconds, no colon); dates as
``YYYY-MM-DD``. Inputs may use ``Z``, ``+0000`` or ``+01:00`` and any precision.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

__all__ = ["format_date", "format_datetime", "parse_date", "parse_datetime"]

_OFFSET_NO_COLON = re.compile(r"([+-]\d{2})(\d{2})$")


def format_datetime(moment: datetime) -> str:
    """Return ``moment`` in Salesforce's wire form (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def parse_datetime(text: str) -> datetime:
    """Parse a client's datetime string into an aware UTC datetime, or raise ValueError."""
    cleaned = text.strip()
    if cleaned.endswith("Z"):
        cleaned = cleaned[:-1] + "+00:00"
    cleaned = _OFFSET_NO_COLON.sub(r"\1:\2", cleaned)
    moment = datetime.fromisoformat(cleaned)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_date(day: date) -> str:
    """Return ``day`` as ``YYYY-MM-DD``."""
    return day.isoformat()


def parse_date(text: str) -> date:
    """Parse ``YYYY-MM-DD`` (a datetime's date part is accepted too), or raise ValueError."""
    cleaned = text.strip()
    if len(cleaned) > len("YYYY-MM-DD"):
        return parse_datetime(cleaned).date()
    return date.fromisoformat(cleaned)
