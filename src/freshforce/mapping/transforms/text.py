"""Text transforms: trim, case, names, join/split, templates, value maps, defaults, text/integer."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from freshforce.mapping.transforms.base import (
    NoParams,
    Params,
    StepContext,
    StepFn,
    TransformDef,
    TransformError,
    is_empty,
)
from freshforce.mapping.transforms.money import DecimalParams

__all__ = ["TEXT_TRANSFORMS", "render_template", "template_fields"]

_SPACES = re.compile(r"\s+")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")


def _trim(params: NoParams) -> StepFn:
    del params
    return lambda value, ctx: value.strip() if isinstance(value, str) else value


class CaseParams(Params):
    """``to``: lower, upper or title."""

    to: Literal["lower", "upper", "title"] = "lower"


def _case(params: CaseParams) -> StepFn:
    def step(value: Any, ctx: StepContext) -> Any:  # noqa: ANN401
        # Any: text goes through; anything else is left alone.
        del ctx
        if not isinstance(value, str):
            return value
        return getattr(value, params.to)()

    return step


def _fixed_case(to: Literal["lower", "upper", "title"]) -> TransformDef[NoParams]:
    return TransformDef(
        name=to,
        summary=f"{to} case (same as case: {to}); both ways",
        params=NoParams,
        build=lambda params: _case(CaseParams(to=to)),
        inverse=lambda params, arity: [(to, params)],
        example=f"transform: [trim, {to}]",
    )


class SplitNameParams(Params):
    """How to split a name of several words, and where a single word goes."""

    several: Literal["last_word", "first_word"] = "last_word"
    single: Literal["last", "first"] = "last"


def _split_name(params: SplitNameParams) -> StepFn:
    def step(value: Any, ctx: StepContext) -> list[str]:  # noqa: ANN401
        # Any: a name is text or missing.
        del ctx
        words = _SPACES.split(str(value).strip()) if not is_empty(value) else []
        if not words:
            return ["", ""]
        if len(words) == 1:
            return ["", words[0]] if params.single == "last" else [words[0], ""]
        if params.several == "last_word":
            return [" ".join(words[:-1]), words[-1]]
        return [words[0], " ".join(words[1:])]

    return step


def _join_words(sep: str) -> StepFn:
    def step(value: Any, ctx: StepContext) -> str:  # noqa: ANN401
        # Any: a list of parts, each text or missing.
        del ctx
        parts = value if isinstance(value, list) else [value]
        kept = [_SPACES.sub(" ", str(part).strip()) for part in parts if not is_empty(part)]
        return sep.join(kept)

    return step


class JoinParams(Params):
    """``sep``: the text between parts."""

    sep: str = " "


class SplitParams(Params):
    """``sep`` between parts; ``parts``: how many fields (the last keeps the rest)."""

    sep: str = " "
    parts: int | None = Field(default=None, ge=1)


def _split(params: SplitParams) -> StepFn:
    def step(value: Any, ctx: StepContext) -> list[str]:  # noqa: ANN401
        # Any: text or missing.
        del ctx
        count = params.parts or 2
        pieces = [] if is_empty(value) else str(value).split(params.sep, count - 1)
        return [*pieces, *([""] * (count - len(pieces)))]

    return step


class TemplateParams(Params):
    """``template``: text with ``{field}`` placeholders read from the source record."""

    template: str


def template_fields(template: str) -> list[str]:
    """Return the field names a template reads."""
    return _PLACEHOLDER.findall(template)


def render_template(template: str, record: Mapping[str, Any]) -> str:
    """Fill ``{field}`` (or ``{Object.Field}``) placeholders from ``record``; missing is empty."""

    def fill(match: re.Match[str]) -> str:
        value: Any = record
        for part in match.group(1).split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        return "" if value is None else str(value)

    return _SPACES.sub(" ", _PLACEHOLDER.sub(fill, template)).strip()


def _template(params: TemplateParams) -> StepFn:
    return lambda value, ctx: render_template(params.template, ctx.record)


class MapParams(Params):
    """``values``: a table (inline or a $named value); ``fallback`` for an unmapped value."""

    values: dict[Any, Any]  # Any: YAML keys may be numbers (status codes) or text
    fallback: Any = None
    inverse_fallback: Any = None


def lookup_map(table: Mapping[Any, Any], value: object) -> tuple[bool, object]:
    """Return (found, mapped) for ``value``, trying it as-is and as text."""
    for key in (value, str(value) if value is not None else None):
        if key is not None and key in table:
            return True, table[key]
    string_keys = {str(key): mapped for key, mapped in table.items()}
    if value is not None and str(value) in string_keys:
        return True, string_keys[str(value)]
    return False, None


def _map(params: MapParams) -> StepFn:
    def step(value: Any, ctx: StepContext) -> Any:  # noqa: ANN401
        # Any: map keys and values are whatever the table holds.
        del ctx
        found, mapped = lookup_map(params.values, value)
        if found:
            return mapped
        if "fallback" in params.model_fields_set:
            return params.fallback
        known = ", ".join(repr(key) for key in list(params.values)[:8])
        raise TransformError(f"value {value!r} is not in the map (known: {known})")

    return step


def reverse_table(table: Mapping[Any, Any]) -> tuple[dict[Any, Any], list[str]]:
    """Return the reversed table and, for every value mapped from several keys, a complaint."""
    reverse: dict[Any, Any] = {}
    clashes: list[str] = []
    for key, value in table.items():
        hashable = value if isinstance(value, str | int | float | bool) or value is None else None
        if hashable is None and value is not None:
            clashes.append(f"{value!r} cannot be reversed")
            continue
        if hashable in reverse:
            clashes.append(f"{value!r} comes from both {reverse[hashable]!r} and {key!r}")
            continue
        reverse[hashable] = key
    return reverse, clashes


def _map_inverse(params: MapParams, arity: int | None) -> list[tuple[str, Params]]:
    del arity
    reverse, clashes = reverse_table(params.values)
    if clashes:
        raise TransformError(
            "the map cannot be reversed: " + "; ".join(clashes) + " (give the rule an inverse)"
        )
    inverse = MapParams(values=reverse)
    if "inverse_fallback" in params.model_fields_set:
        inverse = MapParams(values=reverse, fallback=params.inverse_fallback)
    return [("map", inverse)]


class DefaultParams(Params):
    """``value``: used when the incoming value is empty."""

    value: Any  # Any: any literal


def _default(params: DefaultParams) -> StepFn:
    return lambda value, ctx: params.value if is_empty(value) else value


class TextParams(Params):
    """``of``: what the text holds, so the inverse can restore it (string, integer, decimal)."""

    of: Literal["string", "integer", "decimal"] = "string"


def _text(params: TextParams) -> StepFn:
    del params

    def step(value: Any, ctx: StepContext) -> Any:  # noqa: ANN401
        # Any: numbers and text become text; missing stays missing.
        del ctx
        if value is None:
            return None
        if isinstance(value, Decimal):
            return format(value, "f")
        return str(value)

    return step


def _integer(params: NoParams) -> StepFn:
    del params

    def step(value: Any, ctx: StepContext) -> int | None:  # noqa: ANN401
        # Any: text or numbers.
        del ctx
        if is_empty(value):
            return None
        if isinstance(value, bool):
            raise TransformError(f"value {value!r} is not a whole number")
        try:
            number = Decimal(str(value).strip())
        except ArithmeticError:
            raise TransformError(f"value {value!r} is not a whole number") from None
        if number != number.to_integral_value():
            raise TransformError(f"value {value!r} is not a whole number")
        return int(number)

    return step


def _text_inverse(params: TextParams, arity: int | None) -> list[tuple[str, Params]]:
    del arity
    if params.of == "integer":
        return [("integer", NoParams())]
    if params.of == "decimal":
        return [("decimal", DecimalParams(scale=None))]
    return []


TEXT_TRANSFORMS: list[TransformDef[Any]] = [
    TransformDef(
        name="trim",
        summary="strip spaces at both ends; both ways",
        params=NoParams,
        build=_trim,
        inverse=lambda params, arity: [("trim", params)],
        example="transform: [trim]",
    ),
    TransformDef(
        name="case",
        summary="change letter case; both ways",
        params=CaseParams,
        build=_case,
        inverse=lambda params, arity: [("case", params)],
        shorthand="to",
        example="transform: [{case: upper}]",
    ),
    _fixed_case("lower"),
    _fixed_case("upper"),
    _fixed_case("title"),
    TransformDef(
        name="split_name",
        summary="one full name -> [first, last]; inverse join_name",
        params=SplitNameParams,
        build=_split_name,
        inverse=lambda params, arity: [("join_name", NoParams())],
        arity=lambda params, arity: 2,
        shorthand="several",
        elementwise=False,
        example="transform: [{split_name: {several: last_word}}]",
    ),
    TransformDef(
        name="join_name",
        summary="[first, last] -> one full name; inverse split_name",
        params=NoParams,
        build=lambda params: _join_words(" "),
        inverse=lambda params, arity: [("split_name", SplitNameParams())],
        arity=lambda params, arity: 1,
        elementwise=False,
        example="transform: [join_name]",
    ),
    TransformDef(
        name="join",
        summary="several values -> one text with a separator; inverse split",
        params=JoinParams,
        build=lambda params: _join_words(params.sep),
        inverse=lambda params, arity: [("split", SplitParams(sep=params.sep, parts=arity))],
        arity=lambda params, arity: 1,
        shorthand="sep",
        elementwise=False,
        example='transform: [{join: "\\n"}]',
    ),
    TransformDef(
        name="split",
        summary="one text -> several values at a separator; inverse join",
        params=SplitParams,
        build=_split,
        inverse=lambda params, arity: [("join", JoinParams(sep=params.sep))],
        arity=lambda params, arity: params.parts or 2,
        shorthand="sep",
        elementwise=False,
        example='transform: [{split: {sep: "\\n", parts: 2}}]',
    ),
    TransformDef(
        name="template",
        summary="text built from {field} placeholders of the source record; one way",
        params=TemplateParams,
        build=_template,
        arity=lambda params, arity: 1,
        shorthand="template",
        elementwise=False,
        example='transform: [{template: "{fname} {lname}"}]',
    ),
    TransformDef(
        name="map",
        summary="value table (status, picklist); reversed for the other way",
        params=MapParams,
        build=_map,
        inverse=_map_inverse,
        shorthand="values",
        example="transform: [{map: $invoice_status}]",
    ),
    TransformDef(
        name="default",
        summary="a value for an empty input; the other way passes values through",
        params=DefaultParams,
        build=_default,
        inverse=lambda params, arity: [],
        shorthand="value",
        example="transform: [{default: Customer}]",
    ),
    TransformDef(
        name="text",
        summary="any value -> text; inverse by `of` (string, integer, decimal)",
        params=TextParams,
        build=_text,
        inverse=_text_inverse,
        shorthand="of",
        example="transform: [{text: integer}]",
    ),
    TransformDef(
        name="integer",
        summary="text or number -> whole number; inverse text",
        params=NoParams,
        build=_integer,
        inverse=lambda params, arity: [("text", TextParams(of="integer"))],
        example="transform: [integer]",
    ),
]
