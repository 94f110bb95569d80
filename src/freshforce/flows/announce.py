"""Announcements: facts the flows state after a write, recorded in the outbox with the write.

A flow with an ``announce`` hook hands it a :class:`Fact` when it commits a result worth telling
Salesforce about (an invoice created and linked, a payment summary written to an Opportunity);
the hook returns the effect that records the fact in the outbox, and the engine commits it in
the same transaction as the flow's other effects and the job's ack. A fact's ``key`` names it
once and for all, so a fact announced twice is stored once. The outbox drain
(``freshforce.service.outbox``) publishes the rows as platform events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from freshforce.store.outbox import add_fact

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from freshforce.clock import Clock
    from freshforce.engine import Effect

__all__ = [
    "EVENTS",
    "Announce",
    "Fact",
    "invoice_fact",
    "outbox_announce",
    "payment_fact",
]

# The platform event each kind of fact is published as (docs/platform-events.md).
EVENTS: Mapping[str, str] = {
    "invoices": "FreshBooks_Invoice_Event__e",
    "payments": "FreshBooks_Payment_Event__e",
    "errors": "FreshForce_Sync_Error__e",
}


@dataclass(frozen=True)
class Fact:
    """Something that happened, once: ``kind`` (invoices, payments, errors) and its fields."""

    tenant: str
    kind: str
    key: str
    fields: Mapping[str, object]


Announce = Callable[[Fact], "Effect"]


def _number(value: object) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(Decimal(str(value)))
    except ArithmeticError:
        return None


def invoice_fact(
    tenant: str,
    *,
    opportunity_id: str,
    account_id: str,
    invoice_id: str,
    number: str | None,
    amount: object,
    currency: str | None,
    status: str | None,
) -> Fact:
    """Return the fact "the invoice of this Opportunity was created (and linked)"."""
    fields = {
        "Opportunity_Id__c": opportunity_id,
        "Account_Id__c": account_id or None,
        "Invoice_Id__c": invoice_id,
        "Invoice_Number__c": number,
        "Amount__c": _number(amount),
        "Currency__c": currency,
        "Status__c": status,
    }
    return Fact(tenant, "invoices", f"invoice/{tenant}/{invoice_id}", fields)


def payment_fact(tenant: str, opportunity_id: str, values: Mapping[str, object]) -> Fact:
    """Return the fact "payments moved this Opportunity to these values" (one per state)."""
    fields = {
        "Opportunity_Id__c": opportunity_id,
        "Invoice_Id__c": _text(values.get("FreshBooks_Invoice_Id__c")),
        "Payment_Status__c": _text(values.get("FreshBooks_Payment_Status__c")),
        "Amount_Paid__c": _number(values.get("FreshBooks_Amount_Paid__c")),
        "Balance__c": _number(values.get("FreshBooks_Balance__c")),
        "Last_Payment_Date__c": _text(values.get("FreshBooks_Last_Payment_Date__c")),
        "Currency__c": _text(values.get("CurrencyIsoCode")),
    }
    state = "/".join(str(fields[k]) for k in ("Payment_Status__c", "Amount_Paid__c", "Balance__c"))
    return Fact(tenant, "payments", f"payment/{tenant}/{opportunity_id}/{state}", fields)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def outbox_announce(kinds: frozenset[str], clock: Clock) -> Announce:
    """Return the hook that records facts of ``kinds`` in the outbox (others: a no-op)."""

    def announce(fact: Fact) -> Effect:
        async def record(db: AsyncConnection) -> None:
            if fact.kind not in kinds:
                return
            await add_fact(
                db,
                tenant=fact.tenant,
                event=EVENTS[fact.kind],
                event_key=fact.key,
                fields=fact.fields,
                now=clock(),
            )

        return record

    return announce
