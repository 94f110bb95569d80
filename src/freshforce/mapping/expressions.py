"""JSONata expressions: compiled once at load, evaluated on a side's record and its relatives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonata  # type: ignore[import-untyped]  # jsonata-python ships no type information

from freshforce.mapping.transforms import TransformError
from freshforce.mapping.yamlnodes import Mark

__all__ = ["Expression", "ExpressionSyntaxError", "compile_expression", "expression_input"]


class ExpressionSyntaxError(ValueError):
    """An expression does not parse; ``line`` and ``column`` point into the YAML file."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


@dataclass(frozen=True)
class Expression:
    """A compiled JSONata expression and where it was written."""

    text: str
    line: int
    compiled: Any = field(repr=False, compare=False)  # Any: jsonata.Jsonata is untyped

    def evaluate(self, data: Mapping[str, Any]) -> Any:  # noqa: ANN401
        """Return the expression's value on ``data`` (None for JSONata's undefined)."""
        # Any: JSONata returns any JSON value.
        try:
            return self.compiled.evaluate(data)
        except Exception as exc:  # jsonata-python raises bare built-in errors too
            raise TransformError(f"expression {self.text!r} failed: {exc}") from exc


def compile_expression(text: str, mark: Mark, values: Mapping[str, Any]) -> Expression:
    """Compile ``text`` written at ``mark``, binding each named value as ``$name``.

    Raise :class:`ExpressionSyntaxError` pointing at the offending character in the file.
    """
    try:
        compiled = jsonata.Jsonata(text)
    except Exception as exc:  # noqa: BLE001  # the parser raises JException and built-ins
        location = int(getattr(exc, "location", 0) or 0)
        line, column = _position(text, mark, location)
        raise ExpressionSyntaxError(f"bad expression: {exc}", line, column) from None
    for name, value in values.items():
        compiled.assign(name, value)
    return Expression(text, mark.line, compiled)


def _position(text: str, mark: Mark, location: int) -> tuple[int, int]:
    before = text[: max(location - 1, 0)]
    newlines = before.count("\n")
    if mark.style in {"|", ">"}:  # block scalar: the text starts on the next line
        return mark.line + 1 + newlines, mark.indent + len(before.rsplit("\n", 1)[-1]) + 1
    if newlines:
        return mark.line + newlines, len(before.rsplit("\n", 1)[-1]) + 1
    quote = 1 if mark.style in {"'", '"'} else 0
    return mark.line, mark.column + quote + len(before)


def expression_input(record: Mapping[str, Any], primary: str | None) -> Mapping[str, Any]:
    """Flatten a Salesforce side record: the primary object's fields, and every object by name."""
    if primary is None:
        return record
    main = record.get(primary)
    if not isinstance(main, Mapping):
        return record
    return {
        **main,
        **{key: value for key, value in record.items() if key != primary},
        primary: main,
    }
