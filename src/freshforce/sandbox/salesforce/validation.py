"""Validation rules: per-object formulas that reject a write with FIELD_CUSTOM_VALIDATION_EXCEPTION.

An admin adds a rule (``/_sandbox/salesforce/validation-rules``) with a condition in a small
formula subset (``validation_formula.lark``), an error message and optionally the field the error
is shown on. Every create and update (including those the org makes itself, such as an
opportunity's amount roll-up) runs the object's active rules after the system checks; each rule
whose condition is true adds one error, and any error fails the write.

The subset: field names of the object; ``'text'``/``"text"``, numbers, ``TRUE``, ``FALSE``,
``NULL``; ``= == != <> < <= > >=``; ``&&``, ``||``; ``AND(…)``, ``OR(…)``, ``NOT(x)``,
``ISBLANK(x)``, ``ISNULL(x)``, ``ISNEW()``, ``ISCHANGED(field)``, ``PRIORVALUE(field)``,
``ISPICKVAL(field, 'text')``, ``TODAY()`` and ``DATE(y, m, d)``. Types are checked when the rule
is added, so a rule that would fail at run time is refused with a message saying where.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Literal

from lark import Lark, Token, Tree, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from freshforce.sandbox.salesforce.changes import FieldValue
from freshforce.sandbox.salesforce.errors import ErrorItem, SalesforceError
from freshforce.sandbox.salesforce.objects import ObjectSpec

__all__ = ["FormulaError", "ValidationRule", "ValidationRules"]

Kind = Literal["text", "number", "boolean", "date", "datetime", "any"]
Value = FieldValue


@dataclass(frozen=True)
class _Row:
    """What a formula reads: the record before (None on create), after, and today's date."""

    old: Mapping[str, FieldValue] | None
    new: Mapping[str, FieldValue]
    today: dt.date


Evaluator = Callable[[_Row], Value]
_NUMBERS = frozenset({"currency", "double", "percent", "int"})
_KINDS: dict[str, Kind] = {"boolean": "boolean", "date": "date", "datetime": "datetime"}
_ORDER = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


class FormulaError(ValueError):
    """A condition that does not parse or type-check; the message says where and why."""


@dataclass(frozen=True)
class ValidationRule:
    """One active or inactive rule of one object."""

    object_name: str
    name: str
    condition: str
    message: str
    error_field: str | None = None
    active: bool = True
    evaluate: Evaluator = field(repr=False, compare=False, default=lambda _row: False)

    def describe(self) -> dict[str, object]:
        """Return the rule as the admin API shows it."""
        return {
            "object": self.object_name,
            "name": self.name,
            "condition": self.condition,
            "message": self.message,
            "field": self.error_field,
            "active": self.active,
        }

    def error(self) -> ErrorItem:
        fields = (self.error_field,) if self.error_field else ()
        return ErrorItem("FIELD_CUSTOM_VALIDATION_EXCEPTION", self.message, fields)


class ValidationRules:
    """The org's rules by object, in the order they were added."""

    def __init__(self) -> None:
        self._rules: dict[tuple[str, str], ValidationRule] = {}

    def add(
        self,
        spec: ObjectSpec,
        name: str,
        condition: str,
        message: str,
        error_field: str | None = None,
        *,
        active: bool = True,
    ) -> ValidationRule:
        """Compile and add (or replace) rule ``name`` of ``spec``; raise FormulaError if bad."""
        shown_on = None
        if error_field:
            found = spec.field(error_field)
            if found is None:
                raise FormulaError(f"field: {spec.name} has no field {error_field!r}")
            shown_on = found.name
        evaluate = _compile_condition(spec, condition)
        rule = ValidationRule(
            spec.name, name, condition, message, shown_on, active=active, evaluate=evaluate
        )
        self._rules[(spec.name.lower(), name.lower())] = rule
        return rule

    def remove(self, object_name: str, name: str) -> bool:
        """Forget a rule; return whether it existed."""
        return self._rules.pop((object_name.lower(), name.lower()), None) is not None

    def all(self) -> list[ValidationRule]:
        return list(self._rules.values())

    def check(
        self,
        spec: ObjectSpec,
        old: Mapping[str, FieldValue] | None,
        new: Mapping[str, FieldValue],
        now: dt.datetime,
    ) -> None:
        """Raise FIELD_CUSTOM_VALIDATION_EXCEPTION (one item per failed rule) if any fires."""
        row = _Row(old, new, now.astimezone(dt.UTC).date())
        failed = [
            rule.error()
            for rule in self._rules.values()
            if rule.active and rule.object_name == spec.name and rule.evaluate(row) is True
        ]
        if failed:
            raise SalesforceError(400, *failed)


# ----------------------------------------------------------------- compiling


@cache
def _parser() -> Lark:
    grammar = resources.files(__package__).joinpath("validation_formula.lark").read_text("utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True)


def _compile_condition(spec: ObjectSpec, text: str) -> Evaluator:
    """Parse and type-check ``text`` against ``spec``; return a function of a record change."""
    try:
        tree = _parser().parse(text)
    except (UnexpectedEOF, UnexpectedToken) as exc:
        if isinstance(exc, UnexpectedEOF) or exc.token.type == "$END":
            raise FormulaError("condition: ends too early (a missing ')' or operand?)") from None
        raise FormulaError(
            f"condition: line {exc.line} column {exc.column}: syntax error near {exc.token!s}"
        ) from None
    except UnexpectedInput as exc:
        raise FormulaError(
            f"condition: line {exc.line} column {exc.column}: syntax error near "
            f"{text[max(exc.pos_in_stream or 0, 0) :][:15]!r}"
        ) from None
    kind, evaluate = _Compiler(spec).node(tree)
    if kind not in {"boolean", "any"}:
        raise FormulaError(f"condition: must be true or false, not {kind}")
    return evaluate


def _where(node: Tree[Token] | Token) -> str:
    meta = node if isinstance(node, Token) else node.meta
    line = getattr(meta, "line", None)
    column = getattr(meta, "column", None)
    return f"condition: line {line} column {column}" if line else "condition"


def _unquote(token: str) -> str:
    body = token[1:-1]
    escapes = {"n": "\n", "t": "\t", "\\": "\\", "'": "'", '"': '"'}
    out, index = [], 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            out.append(escapes.get(body[index + 1], body[index + 1]))
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


def _blank(value: Value) -> bool:
    return value is None or value == ""


def _equal(left: Value, right: Value) -> bool:
    if _blank(left) or _blank(right):
        return _blank(left) and _blank(right)
    if isinstance(left, int | float) and isinstance(right, int | float):
        return float(left) == float(right)
    return left == right


Compiled = tuple[Kind, Evaluator]


class _Compiler:
    """Turn the parse tree into (kind, evaluator) pairs, checking types on the way."""

    def __init__(self, spec: ObjectSpec) -> None:
        self.spec = spec

    def node(self, node: Tree[Token] | Token) -> Compiled:
        if isinstance(node, Token):
            raise FormulaError(f"{_where(node)}: unexpected {node!s}")
        handler = getattr(self, f"_{node.data}", None)
        if handler is None:
            raise FormulaError(f"{_where(node)}: unsupported expression")
        result: Compiled = handler(node)
        return result

    # -- literals and fields

    def _string(self, node: Tree[Token]) -> Compiled:
        text = _unquote(str(node.children[0]))
        return "text", lambda _row: text

    def _number(self, node: Tree[Token]) -> Compiled:
        number = float(str(node.children[0]))
        return "number", lambda _row: number

    def _true(self, _node: Tree[Token]) -> Compiled:
        return "boolean", lambda _row: True

    def _false(self, _node: Tree[Token]) -> Compiled:
        return "boolean", lambda _row: False

    def _null(self, _node: Tree[Token]) -> Compiled:
        return "any", lambda _row: None

    def _field_name(self, node: Tree[Token]) -> tuple[str, Kind]:
        raw = str(node.children[0])
        found = self.spec.field(raw)
        if found is None or found.type == "address":
            raise FormulaError(f"{_where(node)}: Field {raw} does not exist. Check spelling.")
        kind = "number" if found.type in _NUMBERS else _KINDS.get(found.type, "text")
        return found.name, kind

    def _field(self, node: Tree[Token]) -> Compiled:
        name, kind = self._field_name(node)
        return kind, lambda row: row.new.get(name)

    # -- operators

    def _or_op(self, node: Tree[Token]) -> Compiled:
        left, right = (self.boolean(child, "||") for child in node.children)
        return "boolean", lambda row: left(row) is True or right(row) is True

    def _and_op(self, node: Tree[Token]) -> Compiled:
        left, right = (self.boolean(child, "&&") for child in node.children)
        return "boolean", lambda row: left(row) is True and right(row) is True

    def boolean(self, node: Tree[Token] | Token, where: str) -> Evaluator:
        kind, evaluate = self.node(node)
        if kind not in {"boolean", "any"}:
            raise FormulaError(f"{_where(node)}: {where} expects true or false, got {kind}")
        return evaluate

    def _compare(self, node: Tree[Token]) -> Compiled:
        left_node, op_token, right_node = node.children
        op = str(op_token)
        left_kind, left = self.node(left_node)
        right_kind, right = self.node(right_node)
        if "any" not in {left_kind, right_kind} and left_kind != right_kind:
            raise FormulaError(
                f"{_where(node)}: Incorrect parameter type for operator '{op}'. "
                f"Expected {left_kind}, received {right_kind}"
            )
        if op in {"=", "=="}:
            return "boolean", lambda row: _equal(left(row), right(row))
        if op in {"!=", "<>"}:
            return "boolean", lambda row: not _equal(left(row), right(row))
        compare = _ORDER[op]

        def ordered(row: _Row) -> bool:
            a, b = left(row), right(row)
            if isinstance(a, int | float) and isinstance(b, int | float):
                return bool(compare(float(a), float(b)))
            if isinstance(a, str) and isinstance(b, str) and a and b:
                return bool(compare(a, b))  # dates and datetimes compare as their wire text
            return False

        return "boolean", ordered

    # -- functions

    def _call(self, node: Tree[Token]) -> Compiled:
        name_token, *rest = node.children
        args = [a for a in rest if isinstance(a, Tree)]
        name = str(name_token).upper()
        handler = _FUNCTIONS.get(name)
        if handler is None:
            raise FormulaError(f"{_where(node)}: Unknown function {name}. Check spelling.")
        return handler(self, node, args)

    def arity(self, node: Tree[Token], args: list[Tree[Token]], count: int) -> None:
        if len(args) != count:
            name = str(node.children[0]).upper()
            raise FormulaError(
                f"{_where(node)}: Incorrect number of parameters for function '{name}()'. "
                f"Expected {count}, received {len(args)}"
            )

    def field_argument(self, node: Tree[Token], arg: Tree[Token] | Token) -> tuple[str, Kind]:
        if isinstance(arg, Tree) and arg.data == "field":
            return self._field_name(arg)
        name = str(node.children[0]).upper()
        raise FormulaError(f"{_where(node)}: {name}() takes a field name")


def _logic(compiler: _Compiler, node: Tree[Token], args: list[Tree[Token]]) -> Compiled:
    name = str(node.children[0]).upper()
    if name == "NOT":
        compiler.arity(node, args, 1)
        inner = compiler.boolean(args[0], "NOT()")
        return "boolean", lambda row: inner(row) is not True
    if not args:
        compiler.arity(node, args, 1)
    parts = [compiler.boolean(a, f"{name}()") for a in args]
    if name == "AND":
        return "boolean", lambda row: all(p(row) is True for p in parts)
    return "boolean", lambda row: any(p(row) is True for p in parts)


def _is_blank(compiler: _Compiler, node: Tree[Token], args: list[Tree[Token]]) -> Compiled:
    compiler.arity(node, args, 1)
    _kind, inner = compiler.node(args[0])
    return "boolean", lambda row: _blank(inner(row))


def _is_new(compiler: _Compiler, node: Tree[Token], args: list[Tree[Token]]) -> Compiled:
    compiler.arity(node, args, 0)
    return "boolean", lambda row: row.old is None


def _is_changed(compiler: _Compiler, node: Tree[Token], args: list[Tree[Token]]) -> Compiled:
    compiler.arity(node, args, 1)
    name, _kind = compiler.field_argument(node, args[0])
    return (
        "boolean",
        lambda row: row.old is not None and not _equal(row.old.get(name), row.new.get(name)),
    )


def _prior_value(compiler: _Compiler, node: Tree[Token], args: list[Tree[Token]]) -> Compiled:
    compiler.arity(node, args, 1)
    name, kind = compiler.field_argument(node, args[0])
    return kind, lambda row: (row.new if row.old is None else row.old).get(name)


def _is_pick_val(compiler: _Compiler, node: Tree[Token], args: list[Tree[Token]]) -> Compiled:
    compiler.arity(node, args, 2)
    name, _kind = compiler.field_argument(node, args[0])
    kind, wanted = compiler.node(args[1])
    if kind != "text":
        raise FormulaError(f"{_where(node)}: ISPICKVAL() compares with text")
    return "boolean", lambda row: _equal(row.new.get(name), wanted(row))


def _today(compiler: _Compiler, node: Tree[Token], args: list[Tree[Token]]) -> Compiled:
    compiler.arity(node, args, 0)
    return "date", lambda row: row.today.isoformat()


def _date(compiler: _Compiler, node: Tree[Token], args: list[Tree[Token]]) -> Compiled:
    compiler.arity(node, args, 3)
    numbers = []
    for arg in args:
        if not (isinstance(arg, Tree) and arg.data == "number"):
            raise FormulaError(f"{_where(node)}: DATE() takes three numbers")
        numbers.append(int(float(str(arg.children[0]))))
    try:
        text = dt.date(*numbers).isoformat()
    except ValueError as exc:
        raise FormulaError(f"{_where(node)}: DATE(): {exc}") from None
    return "date", lambda _row: text


_Function = Callable[[_Compiler, Tree[Token], list[Tree[Token]]], Compiled]
_FUNCTIONS: dict[str, _Function] = {
    "AND": _logic,
    "OR": _logic,
    "NOT": _logic,
    "ISBLANK": _is_blank,
    "ISNULL": _is_blank,
    "ISNEW": _is_new,
    "ISCHANGED": _is_changed,
    "PRIORVALUE": _prior_value,
    "ISPICKVAL": _is_pick_val,
    "TODAY": _today,
    "DATE": _date,
}
