"""Parse SOQL text into the ``soql_ast`` tree with lark's LALR parser.

The grammar lives next to this module in ``soql_grammar.lark``. Syntax errors become
``MALFORMED_QUERY`` with the caret message Salesforce sends.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources

from lark import Lark, Token, Transformer, UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.exceptions import VisitError

from freshforce.sandbox.salesforce.soql_ast import (
    AndCondition,
    Comparison,
    ComparisonOp,
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
)
from freshforce.sandbox.salesforce.soql_errors import SoqlError, malformed

__all__ = ["parse_soql"]

_MAX_QUERY_LENGTH = 100_000
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "'": "'", '"': '"', "\\": "\\"}
_LIKE_ESCAPES = {"%", "_"}
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)
_WORD = re.compile(r"[A-Za-z0-9_]+|\S")


class _LiteralError(ValueError):
    """A literal that lexes but has no meaning (bad escape, impossible date); carries its token."""

    def __init__(self, token: Token, detail: str) -> None:
        super().__init__(detail)
        self.token = token
        self.detail = detail


def parse_soql(text: str) -> Query:
    """Parse ``text`` into a ``Query`` or raise ``SoqlError`` (MALFORMED_QUERY)."""
    if len(text) > _MAX_QUERY_LENGTH:
        raise SoqlError("MALFORMED_QUERY", "Query exceeds the maximum length of 100000 characters")
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(text, exc) from exc
    try:
        return _ToAst().transform(tree)
    except VisitError as exc:
        cause = exc.orig_exc
        if isinstance(cause, _LiteralError):
            line, column = cause.token.line or 1, cause.token.column or 1
            raise malformed(text, line, column, cause.detail) from cause
        raise


@functools.cache
def _parser() -> Lark:
    # A compiled grammar is an immutable constant (like a compiled regex), so it is built once.
    grammar = resources.files(__package__).joinpath("soql_grammar.lark").read_text("utf-8")
    return Lark(grammar, parser="lalr", lexer="contextual", maybe_placeholders=False)


def _syntax_error(text: str, exc: UnexpectedInput) -> SoqlError:
    if isinstance(exc, UnexpectedToken) and exc.token.type == "$END":
        lines = text.splitlines() or [""]
        return malformed(text, len(lines), len(lines[-1]) + 1, "unexpected token: '<EOF>'")
    line, column = exc.line, exc.column
    if isinstance(exc, UnexpectedToken):
        word = str(exc.token)
    elif isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        found = _WORD.match(text, pos)
        word = found.group(0) if found else text[pos : pos + 1]
    else:  # pragma: no cover - lark raises only the two above from parse()
        word = "?"
    if line < 1:
        line, column = 1, 1
    return malformed(text, line, column, f"unexpected token: '{word}'")


@dataclass(frozen=True)
class _Where:
    condition: Condition


@dataclass(frozen=True)
class _OrderBy:
    items: tuple[OrderItem, ...]


@dataclass(frozen=True)
class _Limit:
    value: int


@dataclass(frozen=True)
class _Offset:
    value: int


class _ToAst(Transformer[Token, Query]):
    """Turn lark's tree into the frozen AST; one method per grammar rule."""

    def start(self, children: list[Query]) -> Query:
        return children[0]

    def query(self, children: list[object]) -> Query:
        return _build_query(children)

    def subquery(self, children: list[object]) -> Query:
        return _build_query(children)

    def select_list(self, children: list[SelectItem]) -> tuple[SelectItem, ...]:
        return tuple(children)

    def field_list(self, children: list[FieldPath]) -> tuple[SelectItem, ...]:
        return tuple(children)

    def count_call(self, children: list[FieldPath | Token]) -> CountCall:
        path = next((c for c in children if isinstance(c, FieldPath)), None)
        alias = next((str(c) for c in children if isinstance(c, Token)), None)
        return CountCall(field=path, alias=alias)

    def object_name(self, children: list[Token]) -> Token:
        return children[0]

    def field_path(self, children: list[Token]) -> FieldPath:
        first = children[0]
        return FieldPath(tuple(str(c) for c in children), first.line or 1, first.column or 1)

    def where_clause(self, children: list[Condition]) -> _Where:
        return _Where(children[0])

    def and_chain(self, children: list[Condition]) -> AndCondition:
        return AndCondition(tuple(children))

    def or_chain(self, children: list[Condition]) -> OrCondition:
        return OrCondition(tuple(children))

    def negation(self, children: list[Condition]) -> NotCondition:
        return NotCondition(children[0])

    def comparison(self, children: list[object]) -> Comparison:
        path, op_token, value = children
        assert isinstance(path, FieldPath)  # noqa: S101 - the grammar guarantees the shape
        op = str(op_token).upper()
        normalised: ComparisonOp = "!=" if op == "<>" else op  # type: ignore[assignment]
        return Comparison(path, normalised, value)  # type: ignore[arg-type]

    def in_list(self, children: list[object]) -> InCondition:
        path, *values = children
        assert isinstance(path, FieldPath)  # noqa: S101 - the grammar guarantees the shape
        return InCondition(path, tuple(values), negated=False)  # type: ignore[arg-type]

    def not_in_list(self, children: list[object]) -> InCondition:
        found = self.in_list(children)
        return InCondition(found.field, found.values, negated=True)

    def order_clause(self, children: list[OrderItem]) -> _OrderBy:
        return _OrderBy(tuple(children))

    def order_item(self, children: list[FieldPath | Token]) -> OrderItem:
        path = children[0]
        assert isinstance(path, FieldPath)  # noqa: S101 - the grammar guarantees the shape
        words = {str(c).upper() for c in children[1:]}
        return OrderItem(path, descending="DESC" in words, nulls_last="LAST" in words)

    def limit_clause(self, children: list[Token]) -> _Limit:
        return _Limit(_whole_number(children[0]))

    def offset_clause(self, children: list[Token]) -> _Offset:
        return _Offset(_whole_number(children[0]))

    def string(self, children: list[Token]) -> str:
        return _unescape(children[0])

    def number(self, children: list[Token]) -> Decimal:
        return Decimal(str(children[0]))

    def null(self, _children: list[Token]) -> None:
        return None

    def true(self, _children: list[Token]) -> bool:
        return True

    def false(self, _children: list[Token]) -> bool:
        return False

    def date(self, children: list[Token]) -> DateLiteral:
        token = children[0]
        try:
            return DateLiteral(dt.date.fromisoformat(str(token)))
        except ValueError as exc:
            raise _LiteralError(token, f"line {token.line}:{token.column} no viable date") from exc

    def datetime(self, children: list[Token]) -> DateTimeLiteral:
        token = children[0]
        raw = str(token).upper()
        raw = raw[:-1] + "+00:00" if raw.endswith("Z") else raw
        try:
            value = dt.datetime.fromisoformat(raw)
        except ValueError as exc:
            raise _LiteralError(token, f"line {token.line}:{token.column} no viable date") from exc
        return DateTimeLiteral(value)

    def relative_date(self, children: list[Token]) -> RelativeDate:
        keyword, _, amount = str(children[0]).upper().partition(":")
        return RelativeDate(keyword, int(amount) if amount else None)


def _build_query(children: list[object]) -> Query:
    select, name, *clauses = children
    assert isinstance(select, tuple)  # noqa: S101 - the grammar guarantees the shape
    assert isinstance(name, Token)  # noqa: S101 - the grammar guarantees the shape
    where = next((c.condition for c in clauses if isinstance(c, _Where)), None)
    order_by = next((c.items for c in clauses if isinstance(c, _OrderBy)), ())
    return Query(
        select=select,
        sobject=str(name),
        where=where,
        order_by=order_by,
        limit=next((c.value for c in clauses if isinstance(c, _Limit)), None),
        offset=next((c.value for c in clauses if isinstance(c, _Offset)), None),
        line=name.line or 1,
        column=name.column or 1,
    )


def _whole_number(token: Token) -> int:
    text = str(token)
    if not text.isdigit():
        raise _LiteralError(token, f"unexpected token: '{text}'")
    return int(text)


def _unescape(token: Token) -> str:
    body = str(token)[1:-1]

    def replace(match: re.Match[str]) -> str:
        code = match.group(1)
        if code in _ESCAPES:
            return _ESCAPES[code]
        if code in _LIKE_ESCAPES:
            return "\\" + code  # kept for LIKE, where \% and \_ mean a literal % and _
        if code.startswith("u") and len(code) == 5:  # noqa: PLR2004 - \uXXXX
            return chr(int(code[1:], 16))
        detail = (
            f"Invalid string literal '{body}'. "
            f"Illegal character sequence '\\{code}' in string literal."
        )
        raise _LiteralError(token, detail)

    return _ESCAPE.sub(replace, body)
