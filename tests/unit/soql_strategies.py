"""Hypothesis strategies for SOQL syntax trees and for records the evaluator runs over."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import strategies as st

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
    Value,
)

KEYWORDS = {
    *[
        "select",
        "from",
        "where",
        "and",
        "or",
        "not",
        "in",
        "like",
        "count",
        "order",
        "by",
        "nulls",
        "limit",
        "offset",
    ],
    *["asc", "desc", "first", "last", "null", "true", "false"],
    *[
        "today",
        "yesterday",
        "tomorrow",
        "last_week",
        "this_week",
        "next_week",
        "last_month",
        "this_month",
    ],
    *["next_month", "last_90_days", "next_90_days", "this_year", "last_year", "next_year"],
}
RANGE_WORDS = ["TODAY", "YESTERDAY", "TOMORROW", "THIS_WEEK", "LAST_MONTH", "NEXT_YEAR"]
COUNTED_WORDS = ["LAST_N_DAYS", "NEXT_N_DAYS", "N_DAYS_AGO", "LAST_N_MONTHS", "NEXT_N_WEEKS"]
OPS = ["=", "!=", "<", "<=", ">", ">="]

names = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,12}", fullmatch=True).filter(
    lambda n: n.lower() not in KEYWORDS
)
paths = st.lists(names, min_size=1, max_size=3).map(lambda parts: FieldPath(tuple(parts)))

relative_dates = st.one_of(
    st.sampled_from(RANGE_WORDS).map(RelativeDate),
    st.builds(RelativeDate, st.sampled_from(COUNTED_WORDS), st.integers(0, 400)),
)
offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
datetimes = st.datetimes(
    min_value=dt.datetime(1971, 1, 1),  # noqa: DTZ001 - hypothesis attaches the zone
    max_value=dt.datetime(2099, 12, 31),  # noqa: DTZ001 - same
    timezones=offsets,
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
numbers = st.one_of(
    st.integers(-(10**9), 10**9).map(Decimal),
    st.decimals(min_value=-(10**6), max_value=10**6, places=2, allow_nan=False),
)
values: st.SearchStrategy[Value] = st.one_of(
    st.text(max_size=12),
    numbers,
    st.booleans(),
    st.none(),
    st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31)).map(DateLiteral),
    datetimes.map(DateTimeLiteral),
    relative_dates,
)

comparisons = st.one_of(
    st.builds(Comparison, paths, st.sampled_from([*OPS, "LIKE"]), values),
    st.builds(
        InCondition,
        paths,
        st.lists(values, min_size=1, max_size=4).map(tuple),
        st.booleans(),
    ),
)


def _grow(inner: st.SearchStrategy[Condition]) -> st.SearchStrategy[Condition]:
    group = st.lists(inner, min_size=2, max_size=3).map(tuple)
    return st.one_of(
        st.builds(NotCondition, inner),
        st.builds(AndCondition, group),
        st.builds(OrCondition, group),
    )


conditions: st.SearchStrategy[Condition] = st.recursive(comparisons, _grow, max_leaves=6)
order_items = st.builds(OrderItem, paths, st.booleans(), st.booleans())
bounds = st.none() | st.integers(0, 5000)


def _query(select: st.SearchStrategy[tuple[object, ...]]) -> st.SearchStrategy[Query]:
    return st.builds(
        Query,
        select=select,
        sobject=names,
        where=st.none() | conditions,
        order_by=st.lists(order_items, max_size=3).map(tuple),
        limit=bounds,
        offset=bounds,
    )


subqueries = _query(st.lists(paths, min_size=1, max_size=3).map(tuple))
select_items = st.one_of(
    paths,
    paths,
    subqueries,
    st.builds(CountCall, st.none() | paths, st.none() | names),
)
queries = _query(st.lists(select_items, min_size=1, max_size=4).map(tuple))
