"""The SOQL syntax tree: frozen dataclasses the parser builds and the evaluator reads.

Positions (``line``/``column``, 1-based) are kept for error messages and ignored by equality, so
a query printed and parsed again compares equal to the original.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

__all__ = [
    "AndCondition",
    "Comparison",
    "ComparisonOp",
    "Condition",
    "CountCall",
    "DateLiteral",
    "DateTimeLiteral",
    "FieldPath",
    "InCondition",
    "NotCondition",
    "OrCondition",
    "OrderItem",
    "Query",
    "RelativeDate",
    "SelectItem",
    "Value",
]

ComparisonOp = Literal["=", "!=", "<", "<=", ">", ">=", "LIKE"]


@dataclass(frozen=True)
class FieldPath:
    """A field, possibly reached through parent relationships: ``Account.Owner.Name``."""

    parts: tuple[str, ...]
    line: int = field(default=1, compare=False)
    column: int = field(default=1, compare=False)

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class DateLiteral:
    """An unquoted calendar date: ``2024-01-31``."""

    value: dt.date


@dataclass(frozen=True)
class DateTimeLiteral:
    """An unquoted instant: ``2024-01-31T10:00:00Z`` or with an offset; always timezone-aware."""

    value: dt.datetime


@dataclass(frozen=True)
class RelativeDate:
    """A date range named relative to today: ``TODAY``, ``LAST_N_DAYS:7`` (``amount`` or None)."""

    keyword: str
    amount: int | None = None


# A literal on the right of a comparison: strings, numbers, booleans and null come as Python values.
Value = str | Decimal | bool | None | DateLiteral | DateTimeLiteral | RelativeDate


@dataclass(frozen=True)
class Comparison:
    """``field op value``; ``<>`` is read as ``!=``."""

    field: FieldPath
    op: ComparisonOp
    value: Value


@dataclass(frozen=True)
class InCondition:
    """``field IN (v, ...)`` or, when ``negated``, ``field NOT IN (...)``."""

    field: FieldPath
    values: tuple[Value, ...]
    negated: bool = False


@dataclass(frozen=True)
class NotCondition:
    """``NOT condition``."""

    operand: Condition


@dataclass(frozen=True)
class AndCondition:
    """Two or more conditions joined by ``AND``."""

    operands: tuple[Condition, ...]


@dataclass(frozen=True)
class OrCondition:
    """Two or more conditions joined by ``OR``."""

    operands: tuple[Condition, ...]


Condition = Comparison | InCondition | NotCondition | AndCondition | OrCondition


@dataclass(frozen=True)
class OrderItem:
    """One ``ORDER BY`` key; nulls sort first unless ``nulls_last``."""

    field: FieldPath
    descending: bool = False
    nulls_last: bool = False


@dataclass(frozen=True)
class CountCall:
    """``COUNT()`` (``field`` None) or ``COUNT(field) [alias]``."""

    field: FieldPath | None = None
    alias: str | None = None


@dataclass(frozen=True)
class Query:
    """A SELECT statement; as a child subquery, ``sobject`` is the relationship name."""

    select: tuple[SelectItem, ...]
    sobject: str
    where: Condition | None = None
    order_by: tuple[OrderItem, ...] = ()
    limit: int | None = None
    offset: int | None = None
    line: int = field(default=1, compare=False)
    column: int = field(default=1, compare=False)


SelectItem = FieldPath | Query | CountCall
