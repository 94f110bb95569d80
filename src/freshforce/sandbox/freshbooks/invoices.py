"""Invoice arithmetic and status: totals from lines, discount and tax; status from payments.

Checked against the reference fixture (§5.1): lines 4x5.00 (13% tax) and 6x4.00, a 10% discount:
discount_total -4.40, tax 13% of the discounted taxed line = 2.34, amount 41.94.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from freshforce.sandbox.freshbooks.money import CENT, parse_decimal

__all__ = ["InvoiceStatus", "Totals", "line_amount", "status_of", "totals_of"]

_HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Totals:
    """An invoice's computed money fields (before payments)."""

    subtotal: Decimal
    discount_total: Decimal
    tax_total: Decimal
    amount: Decimal


@dataclass(frozen=True)
class InvoiceStatus:
    """The four status fields and the money that depends on payments."""

    status: int
    v3_status: str
    payment_status: str
    display_status: str
    paid: Decimal
    outstanding: Decimal


def line_amount(line: dict[str, Any]) -> Decimal:
    """Return ``qty x unit_cost`` of one line, before tax, to the cent."""
    qty = parse_decimal(line.get("qty", "1"), "qty")
    unit = parse_decimal(line["unit_cost"]["amount"], "unit_cost.amount")
    return (qty * unit).quantize(CENT, ROUND_HALF_UP)


def totals_of(lines: list[dict[str, Any]], discount_value: str) -> Totals:
    """Compute subtotal, discount (negative), tax and amount; tax applies after the discount."""
    rate = parse_decimal(discount_value or "0", "discount_value") / _HUNDRED
    subtotal = Decimal(0)
    tax = Decimal(0)
    for line in lines:
        amount = line_amount(line)
        subtotal += amount
        base = amount * (1 - rate)
        tax1 = base * _percent(line.get("taxAmount1")) / _HUNDRED
        compound_base = base + tax1 if line.get("compounded_tax") else base
        tax2 = compound_base * _percent(line.get("taxAmount2")) / _HUNDRED
        tax += tax1 + tax2
    discount = -(subtotal * rate).quantize(CENT, ROUND_HALF_UP)
    tax = tax.quantize(CENT, ROUND_HALF_UP)
    return Totals(subtotal, discount, tax, subtotal + discount + tax)


def status_of(amount: Decimal, paid: Decimal, sent: bool) -> InvoiceStatus:
    """Derive status fields: draft/sent until paid, then partial (8) or paid (4).

    An overpaid invoice is ``paid`` with ``paid`` above ``amount`` and ``outstanding`` 0.00.
    Refunds (negative payments) lower ``paid``; below zero, ``outstanding`` stays ``amount``.
    """
    outstanding = max(amount - max(paid, Decimal(0)), Decimal(0))
    display = "sent" if sent else "draft"
    if paid > 0 and outstanding == 0:
        return InvoiceStatus(4, "paid", "paid", display, paid, outstanding)
    if paid > 0:
        return InvoiceStatus(8, "partial", "partial", display, paid, outstanding)
    if sent:
        return InvoiceStatus(2, "sent", "unpaid", display, paid, outstanding)
    return InvoiceStatus(1, "draft", "unpaid", display, paid, outstanding)


def _percent(value: Any) -> Decimal:  # noqa: ANN401 - a JSON scalar
    if value in (None, ""):
        return Decimal(0)
    return parse_decimal(value, "taxAmount")
