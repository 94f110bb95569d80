"""Print a SOQL syntax tree back as query text that parses to the same tree.

Used to build queries from code (Bulk query jobs, tests) without string pasting. Nested AND/OR
groups are parenthesised, since SOQL refuses to mix them bare.
"""

from __future__ import annotations

from decimal import Decimal

from freshforce.sandbox.salesforce.soql_ast import (
    AndCondition,
    Comparison,
    Condition,
    CountCall,
    DateLiteral,
    DateTimeLiteral,
    FieldPath,
    InCondition,
    NotCondition,
    OrCondition,
    OrderItem,
    Query,
    RelativeDate,
    SelectItem,
    Value,
)

__all__ = ["to_soql"]

_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}


def to_soql(query: Query) -> str:
    """Return the query text for ``query``."""
    parts = [
        "SELECT",
        ", ".join(_select_item(item) for item in query.select),
        "FROM",
        query.sobject,
    ]
    if query.where is not None:
        parts += ["WHERE", _condition(query.where, nested=False)]
    if query.order_by:
        parts += ["ORDER BY", ", ".join(_order_item(item) for item in query.order_by)]
    if query.limit is not None:
        parts += ["LIMIT", str(query.limit)]
    if query.offset is not None:
        parts += ["OFFSET", str(query.offset)]
    return " ".join(parts)


def _select_item(item: SelectItem) -> str:
    if isinstance(item, FieldPath):
        return item.dotted
    if isinstance(item, CountCall):
        inner = item.field.dotted if item.field else ""
        return f"COUNT({inner})" + (f" {item.alias}" if item.alias else "")
    return f"({to_soql(item)})"


def _condition(condition: Condition, *, nested: bool) -> str:
    if isinstance(condition, AndCondition | OrCondition):
        word = " AND " if isinstance(condition, AndCondition) else " OR "
        text = word.join(_condition(c, nested=True) for c in condition.operands)
        return f"({text})" if nested else text
    if isinstance(condition, NotCondition):
        return f"NOT {_condition(condition.operand, nested=True)}"
    if isinstance(condition, InCondition):
        values = ", ".join(_value(v) for v in condition.values)
        word = "NOT IN" if condition.negated else "IN"
        return f"{condition.field.dotted} {word} ({values})"
    return _comparison(condition)


def _comparison(condition: Comparison) -> str:
    return f"{condition.field.dotted} {condition.op} {_value(condition.value)}"


def _order_item(item: OrderItem) -> str:
    text = item.field.dotted + (" DESC" if item.descending else " ASC")
    return text + (" NULLS LAST" if item.nulls_last else " NULLS FIRST")


def _value(value: Value) -> str:  # noqa: PLR0911 - one branch per literal kind
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, str):
        return "'" + "".join(_ESCAPES.get(c, c) for c in value) + "'"
    if isinstance(value, DateLiteral):
        return value.value.isoformat()
    if isinstance(value, DateTimeLiteral):
        return value.value.isoformat().replace("+00:00", "Z")
    if isinstance(value, RelativeDate):
        return value.keyword + ("" if value.amount is None else f":{value.amount}")
    raise TypeError(f"not a SOQL literal: {value!r}")  # pragma: no cover - Value is closed
