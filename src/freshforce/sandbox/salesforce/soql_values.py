"""How SOQL compares a stored field value with a literal, per the field's describe type.

Stored values are wire scalars (dates as strings); here they become comparable Python values.
Text compares case-insensitively, ids on their case-sensitive 15-character form, relative dates
(``TODAY``, ``LAST_N_DAYS:7``) as half-open ranges of days in UTC, the org's time zone.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Literal

from freshforce.sandbox.salesforce.soql_ast import (
    ComparisonOp,
    DateLiteral,
    DateTimeLiteral,
    RelativeDate,
    Value,
)

__all__ = [
    "Comparable",
    "Kind",
    "comparable",
    "field_kind",
    "literal_mismatch",
    "make_test",
    "relative_range",
    "sort_value",
]

Kind = Literal["text", "id", "number", "boolean", "date", "datetime"]
Comparable = str | Decimal | bool | dt.date | dt.datetime
Test = Callable[[object], bool]

_NUMBER_TYPES = {"int", "double", "currency", "percent", "long"}
_ID_TYPES = {"id", "reference"}
_ID_KEY_LENGTH = 15
_DAYS_PER_WEEK = 7
_MONTHS_PER_YEAR = 12
_KIND_WIRE_NAME = {
    "number": "double",
    "boolean": "boolean",
    "date": "date",
    "datetime": "dateTime",
    "text": "string",
    "id": "id",
}


def field_kind(describe_type: str) -> Kind:
    """Map a describe ``type`` onto the comparison family it belongs to."""
    lowered = describe_type.lower()
    if lowered in _NUMBER_TYPES:
        return "number"
    if lowered in _ID_TYPES:
        return "id"
    if lowered in {"boolean", "date", "datetime"}:
        return lowered  # type: ignore[return-value]
    return "text"


def literal_mismatch(name: str, kind: Kind, value: Value) -> str | None:
    """Return Salesforce's complaint when ``value`` cannot be compared with a ``kind`` field."""
    if value is None or _fits(kind, value):
        return None
    quoted = (
        "should be enclosed in quotes"
        if kind in {"text", "id"}
        else ("should not be enclosed in quotes")
    )
    return (
        f"value of filter criterion for field '{name}' must be of type "
        f"{_KIND_WIRE_NAME[kind]} and {quoted}"
    )


def _fits(kind: Kind, value: Value) -> bool:
    if kind in {"text", "id"}:
        return isinstance(value, str)
    if kind == "number":
        return isinstance(value, Decimal)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "date":
        return isinstance(value, DateLiteral | RelativeDate)
    return isinstance(value, DateTimeLiteral | RelativeDate)


def comparable(kind: Kind, raw: object) -> Comparable | None:  # noqa: PLR0911 - one per kind
    """Turn a stored wire value into something ``<`` and ``==`` work on, or None."""
    if raw is None:
        return None
    if kind == "text":
        return str(raw).casefold()
    if kind == "id":
        return str(raw)[:_ID_KEY_LENGTH]
    if kind == "number":
        return Decimal(str(raw))
    if kind == "boolean":
        return bool(raw)
    if kind == "date":
        return dt.date.fromisoformat(str(raw)[:10])
    return _parse_datetime(str(raw))


def sort_value(kind: Kind, raw: object) -> Comparable | None:
    """Return the value ``ORDER BY`` sorts on (case-insensitive text, like Salesforce)."""
    return comparable(kind, raw)


def make_test(kind: Kind, op: ComparisonOp, value: Value, today: dt.date) -> Test:
    """Build ``raw -> bool`` for ``field op value`` with two-valued logic (null is a value)."""
    if op == "LIKE":
        return _like_test(value)
    if value is None:
        return _null_test(op)
    if isinstance(value, RelativeDate):
        start, end = _bounds(kind, relative_range(value, today))
        return _range_test(kind, op, start, end)
    target = _literal_comparable(kind, value)
    return _point_test(kind, op, target)


def _null_test(op: ComparisonOp) -> Test:
    if op == "=":
        return lambda raw: raw is None
    if op == "!=":
        return lambda raw: raw is not None
    return lambda _raw: False


def _point_test(kind: Kind, op: ComparisonOp, target: Comparable) -> Test:
    compare = _OPERATORS[op]

    def test(raw: object) -> bool:
        actual = comparable(kind, raw)
        if actual is None:
            return op == "!="
        return compare(actual, target)

    return test


def _range_test(kind: Kind, op: ComparisonOp, start: Comparable, end: Comparable) -> Test:
    checks: dict[str, Callable[[Comparable], bool]] = {
        "=": lambda v: start <= v < end,  # type: ignore[operator]
        "!=": lambda v: not start <= v < end,  # type: ignore[operator]
        "<": lambda v: v < start,  # type: ignore[operator]
        "<=": lambda v: v < end,  # type: ignore[operator]
        ">": lambda v: v >= end,  # type: ignore[operator]
        ">=": lambda v: v >= start,  # type: ignore[operator]
    }
    check = checks[op]

    def test(raw: object) -> bool:
        actual = comparable(kind, raw)
        if actual is None:
            return op == "!="
        return check(actual)

    return test


def _like_test(value: Value) -> Test:
    pattern = _like_regex(value if isinstance(value, str) else "")

    def test(raw: object) -> bool:
        return raw is not None and pattern.fullmatch(str(raw)) is not None

    return test


def _like_regex(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            parts.append(re.escape(next(chars, "\\")))
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _literal_comparable(kind: Kind, value: Value) -> Comparable:
    if isinstance(value, DateLiteral):
        return value.value
    if isinstance(value, DateTimeLiteral):
        return value.value
    if isinstance(value, str):
        return value.casefold() if kind == "text" else value[:_ID_KEY_LENGTH]
    assert isinstance(value, Decimal | bool)  # noqa: S101 - null and ranges are handled earlier
    return value


def _bounds(kind: Kind, days: tuple[dt.date, dt.date]) -> tuple[Comparable, Comparable]:
    if kind != "datetime":
        return days
    start, end = days
    return _midnight(start), _midnight(end)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def _parse_datetime(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def relative_range(value: RelativeDate, today: dt.date) -> tuple[dt.date, dt.date]:
    """Return the half-open day range ``[start, end)`` a relative date literal names."""
    n = value.amount or 0
    week = today - dt.timedelta(days=(today.weekday() + 1) % _DAYS_PER_WEEK)  # Sunday
    month = today.replace(day=1)
    year = today.replace(month=1, day=1)
    day = dt.timedelta(days=1)
    ranges: dict[str, tuple[dt.date, dt.date]] = {
        "TODAY": (today, today + day),
        "YESTERDAY": (today - day, today),
        "TOMORROW": (today + day, today + 2 * day),
        "LAST_WEEK": (week - 7 * day, week),
        "THIS_WEEK": (week, week + 7 * day),
        "NEXT_WEEK": (week + 7 * day, week + 14 * day),
        "LAST_MONTH": (_add_months(month, -1), month),
        "THIS_MONTH": (month, _add_months(month, 1)),
        "NEXT_MONTH": (_add_months(month, 1), _add_months(month, 2)),
        "LAST_90_DAYS": (today - 90 * day, today + day),
        "NEXT_90_DAYS": (today + day, today + 91 * day),
        "THIS_YEAR": (year, _add_months(year, 12)),
        "LAST_YEAR": (_add_months(year, -12), year),
        "NEXT_YEAR": (_add_months(year, 12), _add_months(year, 24)),
        "LAST_N_DAYS": (today - n * day, today + day),
        "NEXT_N_DAYS": (today + day, today + (n + 1) * day),
        "N_DAYS_AGO": (today - n * day, today - (n - 1) * day),
        "LAST_N_WEEKS": (week - 7 * n * day, week),
        "NEXT_N_WEEKS": (week + 7 * day, week + 7 * (n + 1) * day),
        "LAST_N_MONTHS": (_add_months(month, -n), month),
        "NEXT_N_MONTHS": (_add_months(month, 1), _add_months(month, n + 1)),
        "LAST_N_YEARS": (_add_months(year, -12 * n), year),
        "NEXT_N_YEARS": (_add_months(year, 12), _add_months(year, 12 * (n + 1))),
    }
    return ranges[value.keyword]


def _add_months(first_of_month: dt.date, months: int) -> dt.date:
    index = first_of_month.year * _MONTHS_PER_YEAR + first_of_month.month - 1 + months
    return dt.date(index // _MONTHS_PER_YEAR, index % _MONTHS_PER_YEAR + 1, 1)


_OPERATORS: dict[str, Callable[[Comparable, Comparable], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,  # type: ignore[operator]
    "<=": lambda a, b: a <= b,  # type: ignore[operator]
    ">": lambda a, b: a > b,  # type: ignore[operator]
    ">=": lambda a, b: a >= b,  # type: ignore[operator]
}
