"""The org's behaviour beyond storage: defaults, derived fields, roll-ups and delete cascades.

``state.py`` calls ``derive`` before it checks and stores a record, and ``after_write`` once it
is stored (roll-ups write other records in the same transaction). What is modelled:
Contact/User ``Name``; Opportunity ``IsWon``/``IsClosed``/``Probability`` from ``StageName``;
line-item prices (``TotalPrice = Quantity * UnitPrice * (1 - Discount%)``, product, list price
and name from the price book entry); Opportunity ``Amount`` and ``HasOpportunityLineItem`` from
its line items; one primary contact role per opportunity; standard prices before custom ones
(per currency in a multi-currency org, whose own rules live in ``currency.py``). Orders and
their products follow ``orders.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from freshforce.sandbox.salesforce import currency, orders
from freshforce.sandbox.salesforce.changes import FieldValue
from freshforce.sandbox.salesforce.errors import (
    ErrorItem,
    SalesforceError,
    duplicate_value,
    field_integrity,
    invalid_cross_reference,
    required_field_missing,
)
from freshforce.sandbox.salesforce.objects import OPPORTUNITY_STAGES, FieldSpec, ObjectSpec

if TYPE_CHECKING:
    from freshforce.sandbox.salesforce.records import Record
    from freshforce.sandbox.salesforce.transaction import Transaction

__all__ = [
    "after_write",
    "cascades",
    "default_value",
    "derive",
    "external_id_not_found",
    "undelete_failed",
]

_STAGES = {
    name: (closed, won, probability) for name, closed, won, probability in OPPORTUNITY_STAGES
}
_CASCADES: dict[str, tuple[tuple[str, str], ...]] = {
    "Account": (("Contact", "AccountId"), ("Opportunity", "AccountId")),
    "Contact": (("OpportunityContactRole", "ContactId"),),
    "Opportunity": (
        ("OpportunityLineItem", "OpportunityId"),
        ("OpportunityContactRole", "OpportunityId"),
    ),
    "Order": (("OrderItem", "OrderId"),),
    "Product2": (("PricebookEntry", "Product2Id"),),
    "Pricebook2": (("PricebookEntry", "Pricebook2Id"),),
    "PricebookEntry": (("OpportunityLineItem", "PricebookEntryId"),),
}
_USER_DEFAULTS: dict[str, FieldValue] = {
    "TimeZoneSidKey": "America/Los_Angeles",
    "LocaleSidKey": "en_US",
    "LanguageLocaleKey": "en_US",
    "EmailEncodingKey": "UTF-8",
}


def default_value(field: FieldSpec) -> FieldValue:
    """Return the value a field has on a new record before the client's values are applied."""
    if field.type == "boolean":
        return False
    return _USER_DEFAULTS.get(field.name) if field.defaulted_on_create else None


def cascades(object_name: str) -> tuple[tuple[str, str], ...]:
    """(child object, field) pairs whose records go to the recycle bin with a parent."""
    return _CASCADES.get(object_name, ())


def undelete_failed() -> ErrorItem:
    return ErrorItem("UNDELETE_FAILED", "Entity is not in the recycle bin")


def external_id_not_found(field_name: str) -> ErrorItem:
    return ErrorItem(
        "NOT_FOUND",
        f"Provided external ID field does not exist or is not accessible: {field_name}",
    )


def derive(
    tx: Transaction, spec: ObjectSpec, old: Record | None, new: Record, given: Record
) -> None:
    """Fill in the fields the org computes, or raise when the combination is invalid."""
    currency.derive(tx, spec, old, new, given)
    orders.derive(tx, spec, old, new, given)
    if spec.name == "User" and old is None and "IsActive" not in given:
        new["IsActive"] = True
    if spec.name in {"Contact", "User"}:
        parts = (new.get("FirstName"), new.get("LastName"))
        new["Name"] = " ".join(str(p) for p in parts if p) or None
    elif spec.name == "Opportunity":
        _derive_opportunity(old, new, given)
    elif spec.name == "OpportunityLineItem":
        if old is None:
            _derive_line_item_product(tx, new)
        _derive_line_item_price(new, given, creating=old is None)
    elif spec.name == "PricebookEntry" and old is None:
        _derive_pricebook_entry(tx, new)


def _derive_opportunity(old: Record | None, new: Record, given: Record) -> None:
    stage = new.get("StageName")
    closed, won, probability = _STAGES.get(str(stage), (False, False, None))
    new["IsClosed"], new["IsWon"] = closed, won
    stage_moved = old is None or ("StageName" in given and old.get("StageName") != stage)
    if stage_moved and "Probability" not in given and probability is not None:
        new["Probability"] = float(probability)
    if old is not None and old.get("HasOpportunityLineItem"):
        new["Amount"] = old.get("Amount")  # with products the amount is their sum, not an input


def _derive_line_item_product(tx: Transaction, new: Record) -> None:
    opportunity = tx.state.get_record(str(new.get("OpportunityId") or ""))
    if opportunity is None:
        if new.get("OpportunityId") is None:
            raise required_field_missing(["OpportunityId"])
        raise invalid_cross_reference("OpportunityId", str(new["OpportunityId"]))
    entry = _line_item_entry(tx, opportunity, new)
    product = tx.state.get_record(str(entry["Product2Id"]))
    new["PricebookEntryId"] = entry["Id"]
    new["Product2Id"] = entry["Product2Id"]
    new["ListPrice"] = entry["UnitPrice"]
    new["ProductCode"] = product.get("ProductCode") if product else None
    product_name = product.get("Name") if product else ""
    new["Name"] = f"{opportunity.get('Name')} {product_name}"[:376]


def _line_item_entry(tx: Transaction, opportunity: Record, new: Record) -> Record:
    pricebook = opportunity.get("Pricebook2Id") or tx.state.standard_pricebook_id()
    if new.get("PricebookEntryId") is not None:
        entry = tx.state.get_record(str(new["PricebookEntryId"]))
        if entry is None:
            raise invalid_cross_reference("PricebookEntryId", str(new["PricebookEntryId"]))
        if opportunity.get("Pricebook2Id") not in {None, entry["Pricebook2Id"]}:
            raise field_integrity(
                "PricebookEntryId (pricebook entry is in a different pricebook than the one "
                "assigned to the opportunity)",
                ("PricebookEntryId",),
            )
        return entry
    if new.get("Product2Id") is None:
        raise required_field_missing(["PricebookEntryId"])
    for entry_id in tx.state.find("PricebookEntry", "Product2Id", new["Product2Id"]):
        entry = tx.state.get_record(entry_id)
        if entry is not None and entry["Pricebook2Id"] == pricebook and _same_currency(entry, new):
            return entry
    raise field_integrity(
        "Product2Id (no price book entry for this product in the opportunity's price book)",
        ("Product2Id",),
    )


def _derive_line_item_price(new: Record, given: Record, *, creating: bool) -> None:
    if given.get("UnitPrice") is not None and given.get("TotalPrice") is not None:
        raise field_integrity(
            "TotalPrice (only one of unit price or total price may be specified)",
            ("TotalPrice",),
        )
    quantity = float(new.get("Quantity") or 0)
    factor = 1 - float(new.get("Discount") or 0) / 100
    if given.get("TotalPrice") is not None:
        base = quantity * factor
        new["UnitPrice"] = round(float(given["TotalPrice"] or 0) / base, 2) if base else 0.0
        new["TotalPrice"] = round(float(given["TotalPrice"] or 0), 2)
        return
    if creating and new.get("UnitPrice") is None:
        new["UnitPrice"] = new.get("ListPrice")
    new["TotalPrice"] = round(quantity * float(new.get("UnitPrice") or 0) * factor, 2)


def _derive_pricebook_entry(tx: Transaction, new: Record) -> None:
    product = tx.state.get_record(str(new.get("Product2Id") or ""))
    pricebook = tx.state.get_record(str(new.get("Pricebook2Id") or ""))
    if product is None or pricebook is None:
        return  # the reference check names the bad field
    new["Name"], new["ProductCode"] = product.get("Name"), product.get("ProductCode")
    entries = [
        tx.state.get_record(i) for i in tx.state.find("PricebookEntry", "Product2Id", product["Id"])
    ]
    live = [e for e in entries if e is not None]
    live = [e for e in live if _same_currency(e, new)]  # one entry per book and currency
    same_book = [e for e in live if e["Pricebook2Id"] == pricebook["Id"]]
    if same_book:
        raise duplicate_value("Pricebook2Id", str(same_book[0]["Id"]))
    standard = tx.state.standard_pricebook_id()
    if pricebook["Id"] != standard and not any(e["Pricebook2Id"] == standard for e in live):
        raise SalesforceError(
            400,
            ErrorItem("STANDARD_PRICE_NOT_DEFINED", "No standard price defined for this product"),
        )


def _same_currency(a: Record, b: Record) -> bool:
    """Whether two records have one currency (always, in a single-currency org)."""
    return a.get("CurrencyIsoCode") == b.get("CurrencyIsoCode")


def after_write(tx: Transaction, spec: ObjectSpec, old: Record | None, new: Record) -> None:
    """Propagate a stored change to the records that depend on it."""
    currency.after_write(tx, spec, old, new)
    orders.after_write(tx, spec, old, new)
    if spec.name == "OpportunityLineItem":
        for opportunity_id in {(old or {}).get("OpportunityId"), new.get("OpportunityId")}:
            if opportunity_id is not None:
                _roll_up(tx, str(opportunity_id), new)
    elif spec.name == "OpportunityContactRole" and new.get("IsPrimary") and not new["IsDeleted"]:
        _single_primary(tx, spec, new)


def _roll_up(tx: Transaction, opportunity_id: str, item: Record) -> None:
    opportunity = tx.state.get_record(opportunity_id)
    if opportunity is None:
        return
    items = tx.state.children("Opportunity", opportunity_id, "OpportunityLineItems")
    updated: Record = {**opportunity, "HasOpportunityLineItem": bool(items)}
    if items:
        updated["Amount"] = round(sum(float(i.get("TotalPrice") or 0) for i in items), 2)
    if updated.get("Pricebook2Id") is None and not item["IsDeleted"]:
        entry = tx.state.get_record(str(item.get("PricebookEntryId") or ""))
        updated["Pricebook2Id"] = entry["Pricebook2Id"] if entry else None
    if updated != opportunity:
        tx.write(tx.state.describe("Opportunity"), opportunity, updated)


def _single_primary(tx: Transaction, spec: ObjectSpec, new: Record) -> None:
    siblings = tx.state.children(
        "Opportunity", str(new["OpportunityId"]), "OpportunityContactRoles"
    )
    for sibling in siblings:
        if sibling["Id"] != new["Id"] and sibling.get("IsPrimary"):
            tx.write(spec, sibling, {**sibling, "IsPrimary": False})
