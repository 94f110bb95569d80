"""FreshBooks money on the wire: ``{"amount": "<decimal string>", "code": "<ISO 4217>"}``."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

__all__ = ["CENT", "money", "parse_amount", "parse_decimal"]

CENT = Decimal("0.01")


def money(amount: Decimal, code: str) -> dict[str, str]:
    """Render ``amount`` rounded to cents with its currency code."""
    return {"amount": str(amount.quantize(CENT, ROUND_HALF_UP)), "code": code}


def parse_decimal(value: Any, where: str) -> Decimal:  # noqa: ANN401 - a JSON scalar
    """Read a number sent as a JSON number or string; raise ``ValueError`` naming ``where``."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{where}: expected a decimal number, got {value!r}")
    try:
        parsed = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{where}: expected a decimal number, got {value!r}") from None
    if not parsed.is_finite():
        raise ValueError(f"{where}: expected a finite decimal number, got {value!r}")
    return parsed


def parse_amount(value: Any, where: str) -> tuple[Decimal, str | None]:  # noqa: ANN401 - JSON
    """Read money sent as ``{"amount": ..., "code": ...}`` or a bare number/string."""
    if isinstance(value, dict):
        code = value.get("code")
        return parse_decimal(value.get("amount"), f"{where}.amount"), (str(code) if code else None)
    return parse_decimal(value, where), None
