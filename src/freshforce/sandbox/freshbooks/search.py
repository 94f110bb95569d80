"""List queries: paging, ``search[...]`` filters, ``include[]`` and ``sort`` (reference §3.4).

Parsing raises ``QueryError`` naming the parameter; ``select`` applies a parsed query to records
whose ``updated`` is rendered already (Eastern ``YYYY-MM-DD HH:MM:SS``), so date filters work at
day granularity: ``updated_min=D`` keeps records updated on or after day D (Eastern),
``updated_max=D`` those updated before day D.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from freshforce.sandbox.freshbooks.money import parse_decimal
from freshforce.sandbox.freshbooks.resources import Resource

__all__ = ["ListQuery", "Page", "QueryError", "parse_query", "select"]

DEFAULT_PER_PAGE = 15
MAX_PER_PAGE = 100
Record = dict[str, Any]  # a record's wire fields, JSON values


class QueryError(ValueError):
    """A query parameter the API would reject: ``param`` names it, ``kind`` the errno family."""

    def __init__(self, param: str, message: str, kind: str = "invalid_value") -> None:
        super().__init__(message)
        self.param = param
        self.kind = kind


@dataclass(frozen=True)
class _Filter:
    field: str
    op: str  # eq | in | like | min | max
    values: tuple[str, ...]


@dataclass(frozen=True)
class ListQuery:
    """A parsed list request."""

    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    filters: tuple[_Filter, ...] = ()
    includes: frozenset[str] = frozenset()
    sort: tuple[str, bool] | None = None  # field, descending
    vis_state_given: bool = False


@dataclass(frozen=True)
class Page:
    """One page of a list answer."""

    records: list[Record]
    page: int
    pages: int
    per_page: int
    total: int
    extra: dict[str, Any] = field(default_factory=dict)


def parse_query(params: Sequence[tuple[str, str]], resource: Resource) -> ListQuery:
    """Parse decoded query pairs for a list of ``resource``."""
    page, per_page = 1, DEFAULT_PER_PAGE
    filters: list[_Filter] = []
    grouped: dict[str, list[str]] = {}
    includes: set[str] = set()
    sort: tuple[str, bool] | None = None
    for key, value in params:
        if key == "page":
            page = max(_int(key, value, "invalid_page"), 1)
        elif key == "per_page":
            per_page = min(max(_int(key, value, "invalid_per_page"), 1), MAX_PER_PAGE)
        elif key == "include[]":
            includes.add(value)
        elif key == "sort":
            sort = _sort(value)
        elif key.startswith("search[") and key.endswith("][]"):
            grouped.setdefault(key[7:-3], []).append(value)
        elif key.startswith("search[") and key.endswith("]"):
            filters.append(_filter(resource, key[7:-1], value))
    for name, values in grouped.items():
        target = dict(resource.ins).get(name)
        if target is None:
            raise QueryError(f"search[{name}][]", f"unknown list filter '{name}'")
        filters.append(_Filter(target, "in", tuple(values)))
    given = any(f.field == "vis_state" for f in filters)
    return ListQuery(page, per_page, tuple(filters), frozenset(includes), sort, given)


def select(records: list[Record], query: ListQuery) -> Page:
    """Filter, sort and page ``records`` (deleted ones only when ``vis_state`` is asked for)."""
    found = [
        r
        for r in records
        if (query.vis_state_given or r.get("vis_state") != 1)
        and all(_matches(r, f) for f in query.filters)
    ]
    if query.sort is not None:
        key_field, descending = query.sort
        found.sort(key=_sort_key(key_field), reverse=descending)
    total = len(found)
    pages = math.ceil(total / query.per_page)
    start = (query.page - 1) * query.per_page
    return Page(found[start : start + query.per_page], query.page, pages, query.per_page, total)


def _int(key: str, value: str, kind: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise QueryError(key, f"{key} must be an integer, got {value!r}", kind) from None


def _sort(value: str) -> tuple[str, bool]:
    for suffix, descending in (("_desc", True), ("_asc", False)):
        if value.endswith(suffix):
            name = value.removesuffix(suffix)
            return ("create_date" if name == "invoice_date" else name), descending
    raise QueryError("sort", f"sort must be <field>_asc or <field>_desc, got {value!r}")


def _filter(resource: Resource, name: str, value: str) -> _Filter:
    likes, ranges = dict(resource.likes), dict(resource.ranges)
    if name in resource.equals:
        return _Filter(name, "eq", (value,))
    if name in likes:
        return _Filter(likes[name], "like", (value.lower(),))
    for suffix in ("_min", "_max"):
        base = name.removesuffix(suffix)
        if name.endswith(suffix) and base in ranges:
            return _Filter(ranges[base], suffix[1:], (value,))
    known = sorted(
        {*resource.equals, *likes, *(f"{b}_min" for b in ranges), *(f"{b}_max" for b in ranges)}
    )
    raise QueryError(
        f"search[{name}]", f"unknown filter '{name}' for {resource.plural}; known: {known}"
    )


def _matches(record: Record, flt: _Filter) -> bool:
    value = record.get(flt.field)
    if flt.op == "eq":
        return _text(value) == flt.values[0].lower()
    if flt.op == "in":
        return _text(value) in {v.lower() for v in flt.values}
    if flt.op == "like":
        return flt.values[0] in _text(value)
    return _in_range(value, flt.op, flt.values[0], flt.field)


def _in_range(value: Any, op: str, bound: str, name: str) -> bool:  # noqa: ANN401 - JSON
    if value is None:
        return False
    if isinstance(value, dict):  # money
        amount = parse_decimal(value.get("amount"), name)
        limit: Decimal = parse_decimal(bound, f"search[{name}_{op}]")
        return amount >= limit if op == "min" else amount < limit
    day = str(value)[:10]
    wanted = bound[:10]
    return day >= wanted if op == "min" else day < wanted


def _text(value: Any) -> str:  # noqa: ANN401 - JSON
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value).lower()


def _sort_key(name: str) -> Callable[[Record], tuple[int, Any]]:
    def key(record: Record) -> tuple[int, Any]:
        value = record.get(name)
        if isinstance(value, dict):
            return (1, parse_decimal(value.get("amount", "0"), name))
        if isinstance(value, int | float):
            return (1, Decimal(value))
        return (0 if value is None else 1, "" if value is None else str(value))

    return key
