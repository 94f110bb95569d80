"""The custom objects the shipped mirror maps write, as docs/salesforce/objects deploys them.

``FreshBooks_Invoice__c`` (one per FreshBooks invoice, keyed by ``FreshBooks_Invoice_Id__c``)
with its ``FreshBooks_Invoice_Line__c`` children (keyed by ``FreshBooks_Line_Key__c``, a
master-detail ``Invoice__c``), and ``FreshBooks_Payment__c`` (keyed by
``FreshBooks_Payment_Id__c``). The external-id fields the Orders map keys ``Order`` and
``OrderItem`` by are added to those standard objects here too.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from freshforce.sandbox.salesforce.objects import FieldSpec, ObjectSpec, system_fields

if TYPE_CHECKING:
    from freshforce.sandbox.salesforce.objects import FieldType

__all__ = ["MIRROR_PREFIXES", "mirror_fields", "mirror_objects"]

MIRROR_PREFIXES = {
    "FreshBooks_Invoice__c": "a0F",
    "FreshBooks_Invoice_Line__c": "a0G",
    "FreshBooks_Payment__c": "a0H",
}
INVOICE_STATUSES = (
    "Draft", "Sent", "Viewed", "Partial", "Paid", "Overdue", "Disputed", "Deleted", "Archived",
)  # fmt: skip


def _text(name: str, length: int = 255, **extra: bool) -> FieldSpec:
    return FieldSpec(name=name, type="string", length=length, **extra)  # type: ignore[arg-type]


def _key(name: str) -> FieldSpec:
    return _text(name, 64, external_id=True, unique=True, nillable=False)


def _typed(name: str, kind: FieldType, **extra: object) -> FieldSpec:
    sizes = {"precision": 18, "scale": 2} if kind in {"currency", "double"} else {}
    return FieldSpec(name=name, type=kind, **{**sizes, **extra})  # type: ignore[arg-type]


def _lookup(name: str, target: str, children: str, **extra: bool) -> FieldSpec:
    return FieldSpec(
        name=name,
        type="reference",
        length=18,
        reference_to=(target,),
        relationship_name=name.removesuffix("__c") + "__r",
        child_relationship=children,
        **extra,  # type: ignore[arg-type]  # only the boolean flags are passed
    )


def _owner() -> FieldSpec:
    return FieldSpec(
        name="OwnerId",
        type="reference",
        length=18,
        reference_to=("User",),
        relationship_name="Owner",
        nillable=False,
        defaulted_on_create=True,
    )


def _custom(name: str, label: str, plural: str, fields: list[FieldSpec]) -> ObjectSpec:
    head = _text("Name", 80, name_field=True)
    return ObjectSpec(
        name=name,
        label=label,
        label_plural=plural,
        key_prefix=MIRROR_PREFIXES[name],
        fields=(*system_fields(), head, *fields),
        custom=True,
    )


def _invoice() -> ObjectSpec:
    return _custom(
        "FreshBooks_Invoice__c",
        "FreshBooks Invoice",
        "FreshBooks Invoices",
        [
            _owner(),
            _key("FreshBooks_Invoice_Id__c"),
            _lookup("Account__c", "Account", "FreshBooks_Invoices__r"),
            _lookup("Opportunity__c", "Opportunity", "FreshBooks_Invoices__r"),
            _typed("Status__c", "picklist", length=40, picklist_values=INVOICE_STATUSES),
            _typed("Invoice_Date__c", "date"),
            _typed("Due_Date__c", "date"),
            _typed("Amount__c", "currency"),
            _typed("Outstanding__c", "currency"),
            _typed("Paid__c", "currency"),
            _text("Currency__c", 3),
            _typed("Archived__c", "boolean", nillable=False, defaulted_on_create=True),
            _typed("Invoice_Url__c", "url", length=255),
        ],
    )


def _line() -> ObjectSpec:
    return _custom(
        "FreshBooks_Invoice_Line__c",
        "FreshBooks Invoice Line",
        "FreshBooks Invoice Lines",
        [
            _key("FreshBooks_Line_Key__c"),
            # Master-detail: required, and set once (reparenting is not allowed).
            _lookup(
                "Invoice__c", "FreshBooks_Invoice__c", "Lines__r", nillable=False, updateable=False
            ),
            _typed("Description__c", "textarea", length=4000),
            _typed("Quantity__c", "double"),
            _typed("Unit_Cost__c", "currency"),
            _typed("Amount__c", "currency"),
            _typed("Line_Number__c", "int", precision=9),
        ],
    )


def _payment() -> ObjectSpec:
    return _custom(
        "FreshBooks_Payment__c",
        "FreshBooks Payment",
        "FreshBooks Payments",
        [
            _owner(),
            _key("FreshBooks_Payment_Id__c"),
            _lookup("Invoice__c", "FreshBooks_Invoice__c", "Payments__r"),
            _lookup("Account__c", "Account", "FreshBooks_Payments__r"),
            _typed("Amount__c", "currency"),
            _text("Currency__c", 3),
            _typed("Payment_Date__c", "date"),
            _text("Payment_Type__c", 40),
            _typed("Note__c", "textarea", length=4000),
        ],
    )


def mirror_objects() -> list[ObjectSpec]:
    """Return the shipped mirror custom objects."""
    return [_invoice(), _line(), _payment()]


def mirror_fields(spec: ObjectSpec) -> ObjectSpec:
    """Return ``spec`` with the mirror's external-id field added when it is Order or OrderItem."""
    added = {"Order": "FreshBooks_Invoice_Id__c", "OrderItem": "FreshBooks_Line_Key__c"}
    name = added.get(spec.name)
    if name is None:
        return spec
    return spec.with_field(replace(_key(name), nillable=True))
