import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from soql_strategies import queries
from soql_world import MemorySource

from freshforce.sandbox.salesforce.soql import parse_soql, run_soql, to_soql
from freshforce.sandbox.salesforce.soql_ast import (
    Comparison,
    Condition,
    DateLiteral,
    DateTimeLiteral,
    FieldPath,
    InCondition,
    NotCondition,
    OrderItem,
    Query,
    RelativeDate,
)
from freshforce.sandbox.salesforce.soql_values import comparable

NOW = dt.datetime(2024, 6, 15, 12, tzinfo=dt.UTC)


@given(queries)
@settings(max_examples=150, deadline=None)
def test_printed_queries_parse_back_to_the_same_tree(query: Query) -> None:
    assert parse_soql(to_soql(query)) == query


# -- evaluator properties over generated Opportunity records ------------------------------------

FIELDS = {
    "Name": "text",
    "Amount": "number",
    "CloseDate": "date",
    "IsWon": "boolean",
    "SystemModstamp": "datetime",
}
days = st.dates(dt.date(2024, 5, 1), dt.date(2024, 7, 31))
stamps = st.datetimes(dt.datetime(2024, 6, 1), dt.datetime(2024, 6, 30))  # noqa: DTZ001 - UTC wire strings
raw_values = {
    "Name": st.none() | st.sampled_from(["acme", "Acme", "globex", "100%", "a_b", ""]),
    "Amount": st.none() | st.integers(-5, 5) | st.sampled_from([0.5, 2.25]),
    "CloseDate": st.none() | days.map(dt.date.isoformat),
    "IsWon": st.booleans(),
    "SystemModstamp": st.none() | stamps.map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.000+0000")),
}
literals = {
    "Name": st.none() | st.sampled_from(["acme", "GLOBEX", "a%", "%\\%", "_cme", "z"]),
    "Amount": st.none() | st.integers(-5, 5).map(Decimal) | st.just(Decimal("0.5")),
    "CloseDate": st.none()
    | days.map(DateLiteral)
    | st.sampled_from([RelativeDate("TODAY"), RelativeDate("LAST_N_DAYS", 10)]),
    "IsWon": st.none() | st.booleans(),
    "SystemModstamp": st.none()
    | stamps.map(lambda d: DateTimeLiteral(d.replace(tzinfo=dt.UTC)))
    | st.just(RelativeDate("THIS_WEEK")),
}


@st.composite
def records(draw: st.DrawFn) -> list[dict[str, object]]:
    count = draw(st.integers(0, 12))
    rows = []
    for index in range(count):
        row = {name: draw(strategy) for name, strategy in raw_values.items()}
        rows.append({"Id": f"006{index:015d}", "IsDeleted": False, **row})
    return rows


@st.composite
def leaf(draw: st.DrawFn) -> Condition:
    name = draw(st.sampled_from(sorted(FIELDS)))
    path = FieldPath((name,))
    if draw(st.booleans()):
        found = draw(st.lists(literals[name], min_size=1, max_size=3))
        return InCondition(path, tuple(found), draw(st.booleans()))
    ops = ["=", "!="] if FIELDS[name] == "boolean" else ["=", "!=", "<", "<=", ">", ">="]
    if name == "Name":
        ops = [*ops, "LIKE"]
    op = draw(st.sampled_from(ops))
    value = draw(literals[name].filter(lambda v: v is not None)) if op == "LIKE" else None
    return Comparison(path, op, value if op == "LIKE" else draw(literals[name]))  # type: ignore[arg-type]


def run(rows: list[dict[str, object]], query: Query) -> list[dict[str, object]]:
    source = MemorySource({"Opportunity": rows})
    return run_soql(to_soql(query), source, now=NOW).records


def select(where: Condition | None = None, **kwargs: object) -> Query:
    fields = tuple(FieldPath((n,)) for n in ("Id", *FIELDS))
    return Query(select=fields, sobject="Opportunity", where=where, **kwargs)  # type: ignore[arg-type]


@given(records(), st.recursive(leaf(), lambda inner: st.builds(NotCondition, inner), max_leaves=3))
@settings(max_examples=200, deadline=None)
def test_a_where_and_its_not_partition_the_records(
    rows: list[dict[str, object]], condition: Condition
) -> None:
    kept = {r["Id"] for r in run(rows, select(condition))}
    dropped = {r["Id"] for r in run(rows, select(NotCondition(condition)))}
    assert kept.isdisjoint(dropped)
    assert kept | dropped == {r["Id"] for r in rows}


@given(records(), st.sampled_from(sorted(FIELDS)), st.booleans(), st.booleans())
@settings(max_examples=200, deadline=None)
def test_order_by_sorts_with_nulls_where_asked(
    rows: list[dict[str, object]], name: str, descending: bool, nulls_last: bool
) -> None:
    order = (OrderItem(FieldPath((name,)), descending, nulls_last),)
    got = [comparable(FIELDS[name], r[name]) for r in run(rows, select(order_by=order))]  # type: ignore[arg-type]
    present = [v for v in got if v is not None]
    nulls = [v for v in got if v is None]
    assert got == (present + nulls if nulls_last else nulls + present)
    assert present == sorted(present, reverse=descending)  # type: ignore[type-var]


@given(records(), st.none() | st.integers(0, 15), st.none() | st.integers(0, 15))
@settings(max_examples=150, deadline=None)
def test_limit_and_offset_slice_the_ordered_rows(
    rows: list[dict[str, object]], limit: int | None, offset: int | None
) -> None:
    order = (OrderItem(FieldPath(("Amount",))), OrderItem(FieldPath(("Id",))))
    everything = run(rows, select(order_by=order))
    sliced = run(rows, select(order_by=order, limit=limit, offset=offset))
    start = offset or 0
    assert sliced == everything[start : None if limit is None else start + limit]
