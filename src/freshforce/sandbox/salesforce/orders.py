"""Orders and their products: numbering, status, price book rules and the total roll-up.

``rules.derive`` / ``rules.after_write`` call ``derive`` / ``after_write`` here. What is modelled
(shared/reference §8.1): an Order is created ``Draft`` with the next ``OrderNumber``; its
read-only ``StatusCode`` follows ``Status`` and ``ActivatedDate`` is set on activation. An
OrderItem needs a price book entry of the order's price book (so the order needs one first),
takes product and list price from it, and ``TotalPrice = Quantity * UnitPrice``; the order's
``TotalAmount`` is the sum. An activated order's products cannot be added, edited or deleted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from freshforce.sandbox.salesforce.errors import field_integrity

if TYPE_CHECKING:
    from freshforce.sandbox.salesforce.objects import ObjectSpec
    from freshforce.sandbox.salesforce.records import Record
    from freshforce.sandbox.salesforce.transaction import Transaction

__all__ = ["after_write", "derive"]

_FIRST_NUMBER = 100
_ACTIVATED = "Activated"


def derive(
    tx: Transaction, spec: ObjectSpec, old: Record | None, new: Record, given: Record
) -> None:
    """Fill in what the org computes for an Order or OrderItem, or refuse the write."""
    del given  # every derived value depends on the stored result only
    if spec.name == "Order":
        _derive_order(tx, old, new)
    elif spec.name == "OrderItem":
        order = tx.state.get_record(str(new.get("OrderId") or ""))
        if order is None:
            return  # the reference check names the bad field
        _refuse_if_activated(order)
        if old is None:
            _take_entry(tx, order, new)
        quantity, price = float(new.get("Quantity") or 0), float(new.get("UnitPrice") or 0)
        new["TotalPrice"] = round(quantity * price, 2)


def _derive_order(tx: Transaction, old: Record | None, new: Record) -> None:
    if old is None:
        new["Status"] = new.get("Status") or "Draft"
        number = _FIRST_NUMBER + len(tx.state.tables.table("Order"))
        new["OrderNumber"] = f"{number:08d}"
        new["TotalAmount"] = 0.0
    new["StatusCode"] = new["Status"]
    was_active = old is not None and old.get("StatusCode") == _ACTIVATED
    if new["StatusCode"] == _ACTIVATED and not was_active:
        new["ActivatedDate"] = tx.stamp


def _refuse_if_activated(order: Record) -> None:
    if order.get("StatusCode") == _ACTIVATED:
        raise field_integrity(
            "OrderId (products of an activated order cannot be added, changed or deleted)",
            ("OrderId",),
        )


def _take_entry(tx: Transaction, order: Record, new: Record) -> None:
    entry = tx.state.get_record(str(new.get("PricebookEntryId") or ""))
    if entry is None:
        return  # the reference check names the bad field
    if order.get("Pricebook2Id") is None or order["Pricebook2Id"] != entry["Pricebook2Id"]:
        raise field_integrity(
            "PricebookEntryId (pricebook entry is in a different pricebook than the one "
            "assigned to the order, or order has no pricebook assigned)",
            ("PricebookEntryId",),
        )
    new["Product2Id"] = entry["Product2Id"]
    new["ListPrice"] = entry["UnitPrice"]


def after_write(tx: Transaction, spec: ObjectSpec, old: Record | None, new: Record) -> None:
    """Roll an order's products up into its ``TotalAmount`` (after a delete too)."""
    if spec.name != "OrderItem":
        return
    order = tx.state.get_record(str(new.get("OrderId") or ""))
    if order is None:
        return  # the order itself is being deleted
    if new.get("IsDeleted") and old is not None and not old.get("IsDeleted"):
        _refuse_if_activated(order)
    items = tx.state.children("Order", str(order["Id"]), "OrderItems")
    total = round(sum(float(i.get("TotalPrice") or 0) for i in items), 2)
    if order.get("TotalAmount") != total:
        tx.write(tx.state.describe("Order"), order, {**order, "TotalAmount": total})
