"""Run a parsed SOQL query over a ``RecordSource`` and shape the rows as the REST API does.

Names are checked against the object shapes first (INVALID_TYPE / INVALID_FIELD with the caret
message), then records are filtered, sorted, sliced and turned into ``attributes``-carrying rows
with parent relationships nested and child subqueries as ``{totalSize, done, records}``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from freshforce.sandbox.salesforce.soql_ast import (
    AndCondition,
    Condition,
    CountCall,
    FieldPath,
    InCondition,
    NotCondition,
    OrCondition,
    Query,
)
from freshforce.sandbox.salesforce.soql_errors import (
    SoqlError,
    invalid_field,
    invalid_relationship,
    invalid_type,
    malformed,
    pointed,
)
from freshforce.sandbox.salesforce.soql_source import (
    ChildLink,
    FieldSpec,
    ObjectShape,
    ParentLink,
    Record,
    RecordSource,
)
from freshforce.sandbox.salesforce.soql_values import (
    Kind,
    field_kind,
    literal_mismatch,
    make_test,
    sort_value,
)

__all__ = ["QueryResult", "check", "evaluate"]

_MAX_OFFSET = 2000
# A result row is JSON bound for the wire.
Row = dict[str, Any]
Predicate = Callable[[Record], bool]
_Named = TypeVar("_Named", FieldSpec, ParentLink, ChildLink)


@dataclass(frozen=True)
class QueryResult:
    """Every row of a query (paging is the REST layer's job) and its ``totalSize``."""

    total_size: int
    records: list[Row]


@dataclass(frozen=True)
class _Context:
    text: str
    source: RecordSource
    today: dt.date
    include_deleted: bool
    api_version: str
    # Parents looked up during this one query, by id: rows often share an owner or account.
    parents: dict[str, Record | None] = field(default_factory=dict)

    def parent(self, link: ParentLink, parent_id: object) -> Record | None:
        if not parent_id:
            return None
        key = str(parent_id)
        if key not in self.parents:
            self.parents[key] = self.source.record(link.target, key)
        return self.parents[key]


@dataclass(frozen=True)
class _Resolved:
    """A field path checked against the shapes: the lookups to follow, then the field."""

    links: tuple[ParentLink, ...]
    spec: FieldSpec

    @property
    def kind(self) -> Kind:
        return field_kind(self.spec.type)


def evaluate(
    query: Query,
    text: str,
    source: RecordSource,
    *,
    now: dt.datetime,
    include_deleted: bool,
    api_version: str,
) -> QueryResult:
    """Run ``query`` (parsed from ``text``) and return all of its rows."""
    ctx = _Context(text, source, now.astimezone(dt.UTC).date(), include_deleted, api_version)
    plan = _top_plan(ctx, query)
    records = plan.select(source.records(plan.shape.name, include_deleted=include_deleted))
    return plan.result(records)


def check(query: Query, text: str, source: RecordSource) -> ObjectShape:
    """Resolve every name in ``query`` without reading records; return the queried object."""
    ctx = _Context(text, source, dt.date.min, include_deleted=False, api_version="")
    return _top_plan(ctx, query).shape


def _top_plan(ctx: _Context, query: Query) -> _Plan:
    shape = ctx.source.shape(query.sobject)
    if shape is None:
        raise invalid_type(ctx.text, query.line, query.column, query.sobject)
    return _plan(ctx, query, shape)


@dataclass(frozen=True)
class _ChildColumn:
    """A child subquery column: the relationship and the plan run over each parent's children."""

    link: ChildLink
    plan: _Plan

    def value(self, ctx: _Context, parent: Record) -> Row | None:
        found = ctx.source.children(
            self.link, str(parent.get("Id")), include_deleted=ctx.include_deleted
        )
        rows = [self.plan.row(r) for r in self.plan.select(found)]
        return {"totalSize": len(rows), "done": True, "records": rows} if rows else None


Column = _Resolved | _ChildColumn | CountCall


@dataclass(frozen=True)
class _Plan:
    """A query resolved against one object: how to filter, order, slice and shape its rows."""

    ctx: _Context
    query: Query
    shape: ObjectShape
    predicate: Predicate
    order: tuple[tuple[_Resolved, bool, bool], ...]
    columns: tuple[Column, ...]

    def select(self, records: Iterable[Record]) -> list[Record]:
        kept = [r for r in records if self.predicate(r)]
        for resolved, descending, nulls_last in reversed(self.order):
            kept.sort(key=self._sort_key(resolved, descending, nulls_last), reverse=descending)
        start = self.query.offset or 0
        stop = None if self.query.limit is None else start + self.query.limit
        return kept[start:stop]

    def _sort_key(
        self, resolved: _Resolved, descending: bool, nulls_last: bool
    ) -> Callable[[Record], tuple[int, object]]:
        # Nulls sort first unless NULLS LAST, whichever the direction; reverse=True flips ranks.
        null_rank = 1 if nulls_last != descending else 0

        def key(record: Record) -> tuple[int, object]:
            value = sort_value(resolved.kind, _follow(self.ctx, record, resolved))
            return (null_rank, 0) if value is None else (1 - null_rank, value)

        return key

    def result(self, records: list[Record]) -> QueryResult:
        counts = [c for c in self.columns if isinstance(c, CountCall)]
        if counts and counts[0].field is None:
            return QueryResult(len(records), [])
        if counts:
            return QueryResult(1, [self._aggregate(counts, records)])
        return QueryResult(len(records), [self.row(r) for r in records])

    def _aggregate(self, counts: list[CountCall], records: list[Record]) -> Row:
        row: Row = {"attributes": {"type": "AggregateResult"}}
        for index, count in enumerate(counts):
            assert count.field is not None  # noqa: S101 - COUNT() returned earlier
            resolved = _resolve(self.ctx, self.shape, count.field)
            total = sum(1 for r in records if _follow(self.ctx, r, resolved) is not None)
            row[count.alias or f"expr{index}"] = total
        return row

    def row(self, record: Record) -> Row:
        row = _attributes(self.ctx, self.shape.name, record)
        for column in self.columns:
            if isinstance(column, _Resolved):
                _put(self.ctx, row, record, column)
            elif isinstance(column, _ChildColumn):
                row[column.link.name] = column.value(self.ctx, record)
        return row


def _plan(ctx: _Context, query: Query, shape: ObjectShape) -> _Plan:
    if query.offset is not None and query.offset > _MAX_OFFSET:
        raise SoqlError("NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed is 2000")
    columns = tuple(_column(ctx, shape, item) for item in query.select)
    _check_aggregates(ctx, query)
    order = tuple(
        (
            _simple(ctx, item.field, _resolve(ctx, shape, item.field), "sorted"),
            item.descending,
            item.nulls_last,
        )
        for item in query.order_by
    )
    predicate = _compile(ctx, shape, query.where) if query.where else _always
    return _Plan(ctx, query, shape, predicate, order, columns)


def _column(ctx: _Context, shape: ObjectShape, item: FieldPath | Query | CountCall) -> Column:
    if isinstance(item, FieldPath):
        return _resolve(ctx, shape, item)
    if isinstance(item, CountCall):
        if item.field is not None:
            _resolve(ctx, shape, item.field)
        return item
    link = _find(shape.children, item.sobject)
    child_shape = ctx.source.shape(link.child_object) if link else None
    if link is None or child_shape is None:
        raise invalid_relationship(ctx.text, item.line, item.column, item.sobject, in_from=True)
    return _ChildColumn(link, _plan(ctx, item, child_shape))


def _check_aggregates(ctx: _Context, query: Query) -> None:
    counts = [c for c in query.select if isinstance(c, CountCall)]
    if not counts:
        return
    plain = next((c for c in query.select if not isinstance(c, CountCall)), None)
    if any(c.field is None for c in counts) and len(query.select) > 1:
        raise malformed(ctx.text, query.line, query.column, "COUNT() must be used alone")
    if isinstance(plain, FieldPath):
        detail = f"Field must be grouped or aggregated: {plain.dotted}"
        raise malformed(ctx.text, plain.line, plain.column, detail)
    if plain is not None:
        raise malformed(ctx.text, query.line, query.column, "unexpected token: 'SELECT'")


def _resolve(ctx: _Context, shape: ObjectShape, path: FieldPath) -> _Resolved:
    parts = path.parts
    qualified = len(parts) > 1 and parts[0].lower() == shape.name.lower()
    if qualified and _find(shape.parents, parts[0]) is None:
        parts = parts[1:]  # `Account.Name` FROM Account: the object's own name qualifies
    links: list[ParentLink] = []
    current = shape
    for name in parts[:-1]:
        link = _find(current.parents, name)
        parent = ctx.source.shape(link.target) if link else None
        if link is None or parent is None:
            raise invalid_relationship(ctx.text, path.line, path.column, name, in_from=False)
        links.append(link)
        current = parent
    spec = _find(current.fields, parts[-1])
    if spec is None:
        raise invalid_field(ctx.text, path.line, path.column, parts[-1], current.name)
    return _Resolved(tuple(links), spec)


def _find(items: tuple[_Named, ...], name: str) -> _Named | None:
    lowered = name.lower()
    return next((item for item in items if item.name.lower() == lowered), None)


def _follow(ctx: _Context, record: Record, resolved: _Resolved) -> object:
    current: Record | None = record
    for link in resolved.links:
        current = ctx.parent(link, current.get(link.field)) if current else None
    return _value(current, resolved.spec) if current else None


def _value(record: Record, spec: FieldSpec) -> object:
    """Return a field's value; a compound (``BillingAddress``) as its nested parts or null."""
    if not spec.parts:
        return record.get(spec.name)
    nested = {key: record.get(name) for key, name in spec.parts}
    return nested if any(v is not None for v in nested.values()) else None


def _simple(ctx: _Context, path: FieldPath, resolved: _Resolved, use: str) -> _Resolved:
    """Refuse a compound field where only its parts may go (``WHERE``, ``ORDER BY``)."""
    if resolved.spec.parts:
        detail = f"field '{resolved.spec.name}' can not be {use} in a query call"
        raise SoqlError("INVALID_FIELD", pointed_field(ctx, path, detail))
    return resolved


def _put(ctx: _Context, row: Row, record: Record, resolved: _Resolved) -> None:
    target, current = row, record
    for link in resolved.links:
        parent = ctx.parent(link, current.get(link.field))
        if parent is None:
            target.setdefault(link.name, None)
            return
        nested = target.get(link.name)
        if not isinstance(nested, dict):
            nested = _attributes(ctx, link.target, parent)
            target[link.name] = nested
        target, current = nested, parent
    target[resolved.spec.name] = _value(current, resolved.spec)


def _attributes(ctx: _Context, object_name: str, record: Record) -> Row:
    url = f"/services/data/v{ctx.api_version}/sobjects/{object_name}/{record.get('Id')}"
    return {"attributes": {"type": object_name, "url": url}}


def _always(_record: Record) -> bool:
    return True


def _compile(ctx: _Context, shape: ObjectShape, condition: Condition) -> Predicate:
    if isinstance(condition, AndCondition):
        parts = [_compile(ctx, shape, c) for c in condition.operands]
        return lambda record: all(p(record) for p in parts)
    if isinstance(condition, OrCondition):
        parts = [_compile(ctx, shape, c) for c in condition.operands]
        return lambda record: any(p(record) for p in parts)
    if isinstance(condition, NotCondition):
        inner = _compile(ctx, shape, condition.operand)
        return lambda record: not inner(record)
    resolved = _simple(ctx, condition.field, _resolve(ctx, shape, condition.field), "filtered")
    values = condition.values if isinstance(condition, InCondition) else (condition.value,)
    for value in values:
        problem = literal_mismatch(resolved.spec.name, resolved.kind, value)
        if problem:
            path = condition.field
            raise SoqlError("INVALID_FIELD", pointed_field(ctx, path, problem))
    if isinstance(condition, InCondition):
        tests = [make_test(resolved.kind, "=", v, ctx.today) for v in condition.values]
        negated = condition.negated
        return lambda record: negated != any(t(_follow(ctx, record, resolved)) for t in tests)
    test = make_test(resolved.kind, condition.op, condition.value, ctx.today)
    return lambda record: test(_follow(ctx, record, resolved))


def pointed_field(ctx: _Context, path: FieldPath, detail: str) -> str:
    """Return the caret message for a problem with the field at ``path``."""
    return pointed(ctx.text, path.line, path.column, detail)
