"""The invoices flow's source: won-deal settings, the Opportunity read, the invoice body.

``values.yaml`` keys read here: ``invoice_send`` (false: leave invoices as drafts; true: send
them by e-mail to the Opportunity's Contact), ``won_stages`` (stage names that count as won
besides ``IsWon``), ``invoice_url`` (the invoice's page for a person, with ``{account_id}`` and
``{invoice_id}``), ``payment_status`` (its ``unpaid`` entry is the first payment status),
``invoice_draft_changes`` (``update``: a draft invoice follows its deal's changes; ``review``:
they are flagged for review) and ``invoice_deleted_deal`` (``review``: an invoiced deal deleted
in Salesforce is flagged for review; ``ignore``: the invoice stays and nothing is flagged).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from freshforce.connectors.freshbooks import RESOURCES
from freshforce.connectors.salesforce import Priority, to_18
from freshforce.connectors.salesforce.soql import check_name, literal
from freshforce.engine.fieldlog import jsonable
from freshforce.errors import ConfigError, PermanentError
from freshforce.mapping import Direction

if TYPE_CHECKING:
    from freshforce.connectors.freshbooks import FreshBooksClient
    from freshforce.connectors.freshbooks.models import Invoice
    from freshforce.connectors.salesforce import SalesforceClient
    from freshforce.mapping import FlowMap, MappedRecord

__all__ = [
    "InvoiceSettings",
    "Opportunity",
    "find_invoice",
    "get_invoice",
    "invoice_body",
    "opportunity_query",
    "read_opportunities",
]

DEFAULT_URL = "https://my.freshbooks.com/#/invoice/{account_id}-{invoice_id}"
_OPPORTUNITY_FIELDS = (
    "Id", "Name", "AccountId", "ContactId", "StageName", "IsWon", "CloseDate", "Amount",
    "FreshBooks_Invoice_Id__c", "FreshBooks_Payment_Status__c", "Contact.Email",
)  # fmt: skip
_LINE_FIELDS = (
    "Id", "Name", "Description", "Quantity", "UnitPrice", "Discount", "TotalPrice",
    "ServiceDate", "SortOrder",
)  # fmt: skip
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class InvoiceSettings:
    """What ``values.yaml`` says about invoices, checked once when the flow is built."""

    send: bool = False
    won_stages: frozenset[str] = frozenset()
    url_template: str = DEFAULT_URL
    unpaid: str = "Unpaid"
    invoice_id_field: str = "FreshBooks_Invoice_Id__c"
    url_field: str = "FreshBooks_Invoice_Url__c"
    status_field: str = "FreshBooks_Payment_Status__c"
    draft_changes: str = "update"  # update | review
    deleted_deal: str = "review"  # review | ignore

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> InvoiceSettings:
        """Read the invoice keys of ``values``; a wrong type is a ``ConfigError`` naming it."""
        send = values.get("invoice_send", False)
        if not isinstance(send, bool):
            raise _bad("invoice_send", "true or false", send)
        stages = values.get("won_stages") or []
        if not isinstance(stages, list) or not all(isinstance(s, str) for s in stages):
            raise _bad("won_stages", "a list of stage names", stages)
        url = values.get("invoice_url", DEFAULT_URL)
        if not isinstance(url, str) or "{invoice_id}" not in url:
            raise _bad("invoice_url", "a text containing {invoice_id}", url)
        statuses = values.get("payment_status") or {}
        unpaid = statuses.get("unpaid", "Unpaid") if isinstance(statuses, Mapping) else "Unpaid"
        draft = values.get("invoice_draft_changes", "update")
        if draft not in {"update", "review"}:
            raise _bad("invoice_draft_changes", "update or review", draft)
        deleted = values.get("invoice_deleted_deal", "review")
        if deleted not in {"review", "ignore"}:
            raise _bad("invoice_deleted_deal", "review or ignore", deleted)
        return cls(
            send, frozenset(stages), url, str(unpaid), draft_changes=draft, deleted_deal=deleted
        )

    def is_won(self, record: Mapping[str, Any]) -> bool:
        """Whether the Opportunity of a mapping record counts as won."""
        opportunity = record["Opportunity"]
        return bool(opportunity.get("IsWon")) or opportunity.get("StageName") in self.won_stages

    def invoice_url(self, account_id: str, invoice_id: int) -> str:
        return self.url_template.format(account_id=account_id, invoice_id=invoice_id)


def _bad(key: str, wanted: str, got: object) -> ConfigError:
    return ConfigError(f"values.yaml: {key} must be {wanted}, got {got!r}", flow="invoices")


@dataclass(frozen=True)
class Opportunity:
    """One Opportunity as read: the mapping record and the facts the flow decides on."""

    id: str
    account_id: str
    contact_email: str | None
    invoice_id: str | None
    record: Mapping[str, Any]  # {"Opportunity": {...}, "OpportunityLineItem": [...], ...}


def _map_fields(flow_map: FlowMap, obj: str) -> set[str]:
    """Return the fields of ``obj`` the map's rules (line rules included) read."""
    rules = (*flow_map.rules, *(flow_map.lines.rules if flow_map.lines else ()))
    names = set()
    for rule in rules:
        chain = rule.chains.get(Direction.TO_FRESHBOOKS)
        for ref in chain.sources if chain else ():
            owner, _, name = ref.rpartition(".")
            if owner == obj:
                names.add(name)
    return names


def opportunity_query(flow_map: FlowMap, ids: Sequence[str], *, currency: bool) -> str:
    """Return the one query reading ``ids`` with their Account, Contact and line items.

    ``currency``: the org is multi-currency, so ``CurrencyIsoCode`` exists and is read.
    """
    extra = ["CurrencyIsoCode"] if currency else []
    own = sorted(_map_fields(flow_map, "Opportunity"))
    head = dict.fromkeys([*_OPPORTUNITY_FIELDS, *extra, *own])
    account = {"Name", "FreshBooks_Client_Id__c", *_map_fields(flow_map, "Account")}
    head |= dict.fromkeys(f"Account.{n}" for n in sorted(account))
    lines = dict.fromkeys([*_LINE_FIELDS, *sorted(_map_fields(flow_map, "OpportunityLineItem"))])
    listed = ", ".join(literal(to_18(i)) for i in ids)
    # SOQL, not SQL: names pass check_name and values go through literal().
    child = f"(SELECT {', '.join(check_name(f) for f in lines)} FROM OpportunityLineItems)"  # noqa: S608
    return (
        f"SELECT {', '.join(check_name(f) for f in head)}, {child} "  # noqa: S608
        f"FROM Opportunity WHERE Id IN ({listed})"
    )


async def read_opportunities(client: SalesforceClient, soql: str) -> dict[str, Opportunity]:
    """Run ``soql`` and return each Opportunity found by its 18-character id."""
    found: dict[str, Opportunity] = {}
    for raw in await client.query(soql, priority=Priority.INVOICES):
        opportunity = _plain(raw)
        children = raw.get("OpportunityLineItems") or {}
        items = [_plain(i) for i in children.get("records", [])]
        items.sort(key=lambda i: (i.get("SortOrder") is None, i.get("SortOrder") or 0))
        account = _plain(raw.get("Account") or {})
        contact = raw.get("Contact") or {}
        for nested in ("OpportunityLineItems", "Account", "Contact"):
            opportunity.pop(nested, None)
        ident = to_18(str(opportunity["Id"]))
        found[ident] = Opportunity(
            id=ident,
            account_id=str(opportunity.get("AccountId") or ""),
            contact_email=contact.get("Email"),
            invoice_id=opportunity.get("FreshBooks_Invoice_Id__c") or None,
            record={"Opportunity": opportunity, "OpportunityLineItem": items, "Account": account},
        )
    return found


def _plain(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "attributes"}


def invoice_body(mapped: MappedRecord, opportunity: Opportunity) -> dict[str, Any]:
    """Return the invoice to create: mapped fields, lines (or one for Amount), the reference."""
    if not opportunity.account_id:
        msg = f"Opportunity {opportunity.id} has no Account: an invoice needs a client"
        raise PermanentError(msg, flow="invoices", system="salesforce")
    header = _fields(mapped.by_object().get("", {}))
    # A multi-currency org's deal is in its own currency; elsewhere the map's (home) currency.
    currency = opportunity.record["Opportunity"].get("CurrencyIsoCode")
    currency = str(currency or header.get("currency_code") or "USD")
    header["currency_code"] = currency
    lines = [_fields(line.by_object().get("", {})) for line in mapped.lines]
    if not lines:
        lines = [_amount_line(opportunity, currency)]
    for line in lines:
        cost = line.get("unit_cost")
        if isinstance(cost, dict):
            line["unit_cost"] = {**cost, "code": currency}
    # The reference an attempt after an ambiguous failure looks the invoice up by.
    return {**header, "lines": lines, "po_number": opportunity.id}


def _fields(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: jsonable(v) for k, v in values.items() if v is not None}


def _amount_line(opportunity: Opportunity, currency: str) -> dict[str, Any]:
    deal = opportunity.record["Opportunity"]
    if deal.get("Amount") is None:
        msg = (
            f"Opportunity {opportunity.id} has neither line items nor an Amount: nothing to invoice"
        )
        raise PermanentError(msg, flow="invoices", system="salesforce")
    amount = Decimal(str(deal["Amount"])).quantize(_CENT)
    return {
        "name": str(deal.get("Name") or "")[:255],
        "qty": "1",
        "unit_cost": {"amount": str(amount), "code": currency},
    }


async def get_invoice(client: FreshBooksClient, invoice_id: int) -> Invoice:
    """Return invoice ``invoice_id`` with its lines."""
    return await client.get(RESOURCES["invoices"], invoice_id)  # type: ignore[return-value]


async def find_invoice(client: FreshBooksClient, client_id: int, reference: str) -> Invoice | None:
    """Return the client's invoice whose ``po_number`` is ``reference``, if one exists.

    ``customerid`` is a documented invoice filter; ``po_number`` is compared here, page by page.
    """
    search = {"customerid": str(client_id)}
    async for page in client.list_all(RESOURCES["invoices"], search=search):
        for record in page.records:
            if record.raw.get("po_number") == reference:
                return record  # type: ignore[return-value]  # an Invoice
    return None
