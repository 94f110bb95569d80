"""Number transforms: decimals with scale and rounding, FreshBooks Money, currency conversion."""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from freshforce.mapping.transforms.base import (
    Params,
    Rate,
    RateUsed,
    StepContext,
    StepFn,
    TransformDef,
    TransformError,
    is_empty,
)

__all__ = ["MONEY_TRANSFORMS", "ROUNDING_MODES", "DecimalParams", "to_decimal"]

ROUNDING_MODES: Mapping[str, str] = {
    "up": decimal.ROUND_UP,
    "down": decimal.ROUND_DOWN,
    "ceiling": decimal.ROUND_CEILING,
    "floor": decimal.ROUND_FLOOR,
    "half_up": decimal.ROUND_HALF_UP,
    "half_down": decimal.ROUND_HALF_DOWN,
    "half_even": decimal.ROUND_HALF_EVEN,
    "05up": decimal.ROUND_05UP,
}
Rounding = Literal["up", "down", "ceiling", "floor", "half_up", "half_down", "half_even", "05up"]


def to_decimal(value: object) -> Decimal:
    """Read a number, numeric text or Decimal; anything else names the value in the error."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TransformError(f"value {value!r} is not a number")
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError:
        raise TransformError(f"value {value!r} is not a number") from None
    if not number.is_finite():
        raise TransformError(f"value {value!r} is not a finite number")
    return number


def _quantize(number: Decimal, scale: int | None, rounding: Rounding) -> Decimal:
    if scale is None:
        return number
    return number.quantize(Decimal(1).scaleb(-scale), rounding=ROUNDING_MODES[rounding])


class DecimalParams(Params):
    """``scale``: digits after the point (none: keep all); ``rounding``: how to drop digits."""

    scale: int | None = Field(default=2, ge=0, le=18)
    rounding: Rounding = "half_even"


def _decimal(params: DecimalParams) -> StepFn:
    def step(value: Any, ctx: StepContext) -> Decimal | None:  # noqa: ANN401
        # Any: numbers or numeric text from the wire.
        del ctx
        if is_empty(value):
            return None
        return _quantize(to_decimal(value), params.scale, params.rounding)

    return step


class MoneyParams(DecimalParams):
    """``currency``: the one code expected (gives one field); without it, [amount, code]."""

    currency: str | None = None


def _money(params: MoneyParams) -> StepFn:
    def step(value: Any, ctx: StepContext) -> Any:  # noqa: ANN401
        # Any: a FreshBooks Money object {amount, code}.
        del ctx
        if is_empty(value):
            return None if params.currency else [None, None]
        if not isinstance(value, Mapping) or "amount" not in value:
            raise TransformError(f"value {value!r} is not Money {{amount, code}}")
        amount = _quantize(to_decimal(value["amount"]), params.scale, params.rounding)
        code = value.get("code")
        if params.currency is None:
            return [amount, code]
        if code and code != params.currency:
            raise TransformError(
                f"money in {code} where {params.currency} is expected (add a convert step)"
            )
        return amount

    return step


def _to_money(params: MoneyParams) -> StepFn:
    def step(value: Any, ctx: StepContext) -> dict[str, str] | None:  # noqa: ANN401
        # Any: a number, or [number, code].
        del ctx
        amount, code = (value if isinstance(value, list) else [value, params.currency])[:2]
        if is_empty(amount):
            return None
        if not code:
            raise TransformError(f"amount {amount!r} has no currency code")
        number = _quantize(to_decimal(amount), params.scale, params.rounding)
        return {"amount": format(number, "f"), "code": str(code)}

    return step


class RateTable(Params):
    """A table of rates: 1 ``base`` buys ``rates[X]`` of X, as of a day."""

    base: str
    as_of: date | None = None
    rates: dict[str, Decimal]


class ConvertParams(DecimalParams):
    """``to``: target currency; ``rates``: a table ($named) or ``runtime``."""

    to: str
    rates: RateTable | Literal["runtime"] = "runtime"
    date_field: str | None = None


def _table_rate(table: RateTable, source: str, target: str) -> Rate | None:
    per_base = {**table.rates, table.base: Decimal(1)}
    if source not in per_base or target not in per_base:
        return None
    value = per_base[target] / per_base[source]
    return Rate(source, target, value, table.as_of, "values.yaml")


def _convert(params: ConvertParams) -> StepFn:
    def step(value: Any, ctx: StepContext) -> dict[str, str] | None:  # noqa: ANN401
        # Any: a FreshBooks Money object.
        if is_empty(value):
            return None
        if not isinstance(value, Mapping) or not value.get("code"):
            raise TransformError(f"value {value!r} is not Money {{amount, code}}")
        amount, source = to_decimal(value["amount"]), str(value["code"])
        if source == params.to:
            return {"amount": format(amount, "f"), "code": source}
        rate = _find_rate(params, ctx, source)
        converted = _quantize(amount * rate.value, params.scale, params.rounding)
        ctx.rate_used = RateUsed(rate, amount, converted)
        return {"amount": format(converted, "f"), "code": params.to}

    return step


def _find_rate(params: ConvertParams, ctx: StepContext, source: str) -> Rate:
    if isinstance(params.rates, RateTable):
        rate = _table_rate(params.rates, source, params.to)
    else:
        if ctx.rates is None:
            raise TransformError("no rate source was given for a runtime conversion")
        on = _day(ctx.record.get(params.date_field)) if params.date_field else None
        rate = ctx.rates.rate(source, params.to, on)
    if rate is None:
        raise TransformError(f"no conversion rate from {source} to {params.to}")
    return rate


def _day(value: object) -> date | None:
    if is_empty(value):
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise TransformError(f"value {value!r} is not a date for the conversion rate") from None


MONEY_TRANSFORMS: list[TransformDef[Any]] = [
    TransformDef(
        name="decimal",
        summary="a number at `scale` digits, rounded by `rounding`; both ways",
        params=DecimalParams,
        build=_decimal,
        inverse=lambda params, arity: [("decimal", params)],
        shorthand="scale",
        example="transform: [{decimal: {scale: 2, rounding: half_up}}]",
    ),
    TransformDef(
        name="money",
        summary="FreshBooks Money {amount, code} -> amount (or [amount, code]); inverse to_money",
        params=MoneyParams,
        build=_money,
        inverse=lambda params, arity: [("to_money", params)],
        arity=lambda params, arity: 1 if params.currency else 2,
        shorthand="currency",
        elementwise=False,
        example="transform: [{money: USD}]",
    ),
    TransformDef(
        name="to_money",
        summary="amount (or [amount, code]) -> FreshBooks Money; inverse money",
        params=MoneyParams,
        build=_to_money,
        inverse=lambda params, arity: [("money", params)],
        arity=lambda params, arity: 1,
        shorthand="currency",
        elementwise=False,
        example="transform: [{to_money: USD}]",
    ),
    TransformDef(
        name="convert",
        summary="Money into another currency; the rate and its date are kept; one way",
        params=ConvertParams,
        build=_convert,
        shorthand="to",
        elementwise=False,
        example="transform: [{convert: {to: USD, rates: $fx_rates}}, {money: USD}]",
    ),
]
