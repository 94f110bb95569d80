"""A small in-memory record source for the SOQL tests: a test double of the data, not of HTTP."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from freshforce.sandbox.salesforce.soql import (
    ChildLink,
    FieldSpec,
    ObjectShape,
    ParentLink,
    Record,
)

F = FieldSpec
SHAPES = (
    ObjectShape(
        "User",
        (F("Id", "id"), F("Name", "string"), F("IsDeleted", "boolean")),
    ),
    ObjectShape(
        "Account",
        (
            F("Id", "id"),
            F("Name", "string"),
            F("Industry", "picklist"),
            F("OwnerId", "reference"),
            F("FreshBooks_Client_Id__c", "string"),
            F("AnnualRevenue", "currency"),
            F("IsDeleted", "boolean"),
            F("CreatedDate", "datetime"),
        ),
        parents=(ParentLink("Owner", "OwnerId", "User"),),
        children=(
            ChildLink("Opportunities", "Opportunity", "AccountId"),
            ChildLink("Contacts", "Contact", "AccountId"),
        ),
    ),
    ObjectShape(
        "Contact",
        (
            F("Id", "id"),
            F("LastName", "string"),
            F("Email", "email"),
            F("AccountId", "reference"),
            F("IsDeleted", "boolean"),
        ),
        parents=(ParentLink("Account", "AccountId", "Account"),),
    ),
    ObjectShape(
        "Opportunity",
        (
            F("Id", "id"),
            F("Name", "string"),
            F("AccountId", "reference"),
            F("StageName", "picklist"),
            F("Amount", "currency"),
            F("CloseDate", "date"),
            F("IsWon", "boolean"),
            F("IsDeleted", "boolean"),
            F("SystemModstamp", "datetime"),
        ),
        parents=(ParentLink("Account", "AccountId", "Account"),),
        children=(ChildLink("OpportunityLineItems", "OpportunityLineItem", "OpportunityId"),),
    ),
    ObjectShape(
        "OpportunityLineItem",
        (
            F("Id", "id"),
            F("OpportunityId", "reference"),
            F("Quantity", "double"),
            F("UnitPrice", "currency"),
            F("Description", "textarea"),
            F("IsDeleted", "boolean"),
        ),
        parents=(ParentLink("Opportunity", "OpportunityId", "Opportunity"),),
    ),
)


@dataclass
class MemorySource:
    """Records by object name; ``IsDeleted`` marks soft-deleted ones."""

    data: dict[str, list[dict[str, object]]] = field(default_factory=dict)

    def shape(self, object_name: str) -> ObjectShape | None:
        return next((s for s in SHAPES if s.name.lower() == object_name.lower()), None)

    def records(self, object_name: str, *, include_deleted: bool) -> Iterable[Record]:
        rows = self.data.get(object_name, [])
        return [r for r in rows if include_deleted or not r.get("IsDeleted")]  # type: ignore[misc]

    def record(self, object_name: str, record_id: str) -> Record | None:
        rows = self.records(object_name, include_deleted=False)
        return next((r for r in rows if r["Id"] == record_id), None)

    def children(
        self, link: ChildLink, parent_id: str, *, include_deleted: bool
    ) -> Iterable[Record]:
        rows = self.records(link.child_object, include_deleted=include_deleted)
        return [r for r in rows if r.get(link.field) == parent_id]


def sample_source() -> MemorySource:
    """Two users, three accounts, four opportunities (one deleted), line items, contacts."""
    users = [{"Id": "005000000000001AAA", "Name": "Ada Admin", "IsDeleted": False}]
    accounts = [
        _account("001000000000001AAA", "Acme", "Tech", "005000000000001AAA", "FB-1", 1000),
        _account("001000000000002AAA", "globex", None, "005000000000001AAA", None, None),
        _account("001000000000003AAA", "Initech", "Tech", None, "FB-3", 50.5),
    ]
    opportunities = [
        _opp(
            "006000000000001AAA", "Big deal", "001000000000001AAA", "Closed Won", 900, "2024-01-31"
        ),
        _opp(
            "006000000000002AAA",
            "Small deal",
            "001000000000001AAA",
            "Prospecting",
            10,
            "2024-02-15",
        ),
        _opp("006000000000003AAA", "Orphan", None, "Prospecting", None, "2024-03-01"),
        _opp(
            "006000000000004AAA",
            "Gone",
            "001000000000002AAA",
            "Closed Won",
            5,
            "2024-01-01",
            deleted=True,
        ),
    ]
    items = [
        _item("00k000000000001AAA", "006000000000001AAA", 2, 300, "Widget"),
        _item("00k000000000002AAA", "006000000000001AAA", 1, 300, "100% cotton_shirt"),
    ]
    contacts = [
        {
            "Id": "003000000000001AAA",
            "LastName": "Lovelace",
            "Email": "ada@acme.test",
            "AccountId": "001000000000001AAA",
            "IsDeleted": False,
        },
    ]
    return MemorySource(
        {
            "User": users,
            "Account": accounts,
            "Opportunity": opportunities,
            "OpportunityLineItem": items,
            "Contact": contacts,
        }
    )


def _account(  # noqa: PLR0917 - one positional per column keeps the table readable
    rid: str,
    name: str,
    industry: str | None,
    owner: str | None,
    fb: str | None,
    revenue: float | None,
) -> dict[str, object]:
    return {
        "Id": rid,
        "Name": name,
        "Industry": industry,
        "OwnerId": owner,
        "FreshBooks_Client_Id__c": fb,
        "AnnualRevenue": revenue,
        "IsDeleted": False,
        "CreatedDate": f"2024-01-{int(rid[-4]) + 10:02d}T10:00:00.000+0000",
    }


def _opp(  # noqa: PLR0917 - one positional per column keeps the table readable
    rid: str,
    name: str,
    account: str | None,
    stage: str,
    amount: float | None,
    close: str,
    *,
    deleted: bool = False,
) -> dict[str, object]:
    return {
        "Id": rid,
        "Name": name,
        "AccountId": account,
        "StageName": stage,
        "Amount": amount,
        "CloseDate": close,
        "IsWon": stage == "Closed Won",
        "IsDeleted": deleted,
        "SystemModstamp": f"{close}T08:30:00.000+0000",
    }


def _item(rid: str, opp: str, qty: float, price: float, desc: str) -> dict[str, object]:
    return {
        "Id": rid,
        "OpportunityId": opp,
        "Quantity": qty,
        "UnitPrice": price,
        "Description": desc,
        "IsDeleted": False,
    }
