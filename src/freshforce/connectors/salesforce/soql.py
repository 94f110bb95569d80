"""SOQL text the connector sends: literals, id lookups and SystemModstamp polls, safely quoted.

Only what freshforce itself asks is built here; names come from configuration and describe
results, so they are checked against the API-name shape instead of being quoted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from freshforce.connectors.salesforce.ids import to_18

__all__ = ["by_ids", "check_name", "literal", "modstamp_poll"]

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*")
_ESCAPES = str.maketrans({"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def check_name(name: str) -> str:
    """Return ``name`` when it is an sObject or (dotted) field API name; else raise."""
    if not _NAME.fullmatch(name):
        msg = f"not a Salesforce API name: {name!r} (letters, digits and _ , dots for parents)"
        raise ValueError(msg)
    return name


def literal(value: str | datetime | bool | None) -> str:
    """Return ``value`` as a SOQL literal: quoted strings, unquoted whole-second UTC datetimes."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            msg = f"SOQL datetimes must be timezone-aware, got {value!r}"
            raise ValueError(msg)
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return "'" + value.translate(_ESCAPES) + "'"


def _select(sobject: str, fields: Sequence[str]) -> str:
    names = ["Id", *(check_name(f) for f in fields if f != "Id")]
    # SOQL, not SQL: every name passed check_name and every value goes through literal().
    return f"SELECT {', '.join(dict.fromkeys(names))} FROM {check_name(sobject)}"  # noqa: S608


def by_ids(sobject: str, fields: Sequence[str], ids: Sequence[str]) -> str:
    """Return ``SELECT … WHERE Id IN (…)`` for 18-character forms of ``ids``."""
    listed = ", ".join(literal(to_18(i)) for i in ids)
    return f"{_select(sobject, fields)} WHERE Id IN ({listed})"


def modstamp_poll(
    sobject: str, fields: Sequence[str], since: datetime, limit: int | None = None
) -> str:
    """Return the inclusive poll query: ``SystemModstamp >= since`` in (SystemModstamp, Id) order.

    SOQL datetimes are whole seconds, so ``since`` is floored; the caller drops the
    (Id, SystemModstamp) pairs it has already seen at the boundary.
    """
    wanted = [*fields, "SystemModstamp"]
    floor = since.replace(microsecond=0)
    return (
        f"{_select(sobject, wanted)} WHERE SystemModstamp >= {literal(floor)} "
        "ORDER BY SystemModstamp, Id" + (f" LIMIT {int(limit)}" if limit is not None else "")
    )
