"""Hard rules only a flow can check, each a few lines and one plain sentence per finding.

The flows gather the facts (the invoice a payment is on, the client's invoices in FreshBooks,
the Opportunity's Amount) and pass the findings to the write guard inside the
:class:`~freshforce.engine.guard.PlannedWrite`; the guard holds or flags, stores the write for
review and skips rules the flow map's ``anomalies:`` section disables.

- payments: a payment above what was outstanding before it, a payment in another currency than
  its invoice's, a payment on a deleted invoice, or on one never sent when the flows send every
  invoice (``invoice_send: true``): hold;
- invoices: the Opportunity's Amount differs from the lines' total beyond rounding (half a cent
  per unit of quantity, at least a cent); the Opportunity has an invoice already (one carrying
  its reference that the create ledger does not know); the client has an invoice of the same
  amount on the same day: hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from freshforce.engine.guard import Finding, Guarded

if TYPE_CHECKING:
    from freshforce.connectors.freshbooks.models import Invoice, Payment

__all__ = ["invoice_findings", "invoice_total", "payment_findings"]

_DRAFT = 1  # FreshBooks invoice status 1: draft
_DELETED = 1  # vis_state 1: deleted
_HALF_CENT = Decimal("0.005")
_CENT = Decimal("0.01")


def _money(value: Decimal, code: str) -> str:
    return f"{value:,.2f} {code}".rstrip()


def _number(invoice: Invoice) -> str:
    return f"invoice {invoice.invoice_number or invoice.id}"


def payment_findings(
    invoice: Invoice, payments: Sequence[Payment], *, drafts_odd: bool = True
) -> list[Finding]:
    """Return what holds writing ``invoice``'s payments (their live records, newest last).

    ``drafts_odd``: every invoice is sent when created (``invoice_send: true``), so a payment on
    one never sent is odd; with drafts left for a person to send, it is not checked.
    """
    live = [p for p in payments if p.vis_state != _DELETED and p.amount is not None]
    if not live:
        return []
    found: list[Finding] = []
    code = invoice.currency_code or (invoice.amount.code if invoice.amount else None) or ""
    if invoice.vis_state == _DELETED:
        why = f"a payment on {_number(invoice)}, which is deleted"
        found.append(Finding("payment_on_deleted", Guarded.HOLD, why))
    elif drafts_odd and _never_sent(invoice):
        why = f"a payment on {_number(invoice)}, which is a draft (never sent)"
        found.append(Finding("payment_on_draft", Guarded.HOLD, why))
    for p in live:
        assert p.amount is not None  # noqa: S101 - filtered above
        if p.amount.code and code and p.amount.code != code:
            why = (
                f"payment {p.id} of {_money(p.amount.amount, p.amount.code)} is not in "
                f"{_number(invoice)}'s currency {code}"
            )
            found.append(Finding("payment_currency", Guarded.HOLD, why))
    same = [p.amount.amount for p in live if p.amount and (p.amount.code or code) == code]
    total = invoice.amount.amount if invoice.amount else Decimal(0)
    newest = live[-1].amount
    if newest is not None and newest.amount > 0 and sum(same, Decimal(0)) > total:
        before = max(total - (sum(same, Decimal(0)) - newest.amount), Decimal(0))
        why = (
            f"payment {live[-1].id} of {_money(newest.amount, code)} is above the "
            f"{_money(before, code)} outstanding on {_number(invoice)} "
            f"(total paid {_money(sum(same, Decimal(0)), code)} of {_money(total, code)})"
        )
        found.append(Finding("payment_over_outstanding", Guarded.HOLD, why))
    return found


def _never_sent(invoice: Invoice) -> bool:
    shown = invoice.raw.get("display_status")
    return shown == "draft" if shown else invoice.status == _DRAFT or invoice.v3_status == "draft"


def invoice_total(body: Mapping[str, Any]) -> tuple[Decimal, Decimal]:
    """Return an invoice body's total (qty x unit cost per line) and its quantity."""
    total, quantity = Decimal(0), Decimal(0)
    for line in body.get("lines", []):
        cost = line.get("unit_cost")
        amount = cost.get("amount") if isinstance(cost, dict) else cost
        qty = Decimal(str(line.get("qty") or 1))
        total += Decimal(str(amount or 0)) * qty
        quantity += abs(qty)
    return total, quantity


def invoice_findings(
    body: Mapping[str, Any],
    deal_amount: object,
    existing: Sequence[Invoice],
    *,
    reference: str,
    ledger_knows: bool,
) -> list[Finding]:
    """Return what holds creating the invoice ``body`` for a deal of ``deal_amount``.

    ``existing``: the client's invoices in FreshBooks; ``ledger_knows``: the create ledger has
    an entry for ``reference`` (an earlier attempt's invoice is then ours, not a second one).
    """
    found: list[Finding] = []
    code = str(body.get("currency_code") or "")
    total, quantity = invoice_total(body)
    if deal_amount is not None:
        amount = Decimal(str(deal_amount))
        slack = max(_CENT, _HALF_CENT * quantity)
        if abs(amount - total) > slack:
            why = (
                f"the Opportunity's Amount {_money(amount, code)} differs from its invoice "
                f"lines' total {_money(total, code)} by {_money(abs(amount - total), code)}"
            )
            found.append(Finding("invoice_total", Guarded.HOLD, why))
    day = str(body.get("create_date") or "")
    for invoice in existing:
        if invoice.vis_state == _DELETED:
            continue
        if invoice.raw.get("po_number") == reference:
            if not ledger_knows:
                why = f"the Opportunity has {_number(invoice)} already (its reference {reference})"
                found.append(Finding("second_invoice", Guarded.HOLD, why))
            continue
        same_amount = invoice.amount is not None and invoice.amount.amount == total
        if same_amount and day and str(invoice.create_date) == day:
            why = (
                f"the client has {_number(invoice)} of {_money(total, code)} dated {day} "
                "already: a duplicate?"
            )
            found.append(Finding("same_day_duplicate", Guarded.HOLD, why))
    return found
