"""Deals as a salesperson sets them up: a FreshBooks client, an Account, products, a deal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from freshforce.connectors.freshbooks import RESOURCES
from freshforce.connectors.salesforce import Priority

from .conftest import FlowWorld

P = Priority.CLIENTS


@dataclass(frozen=True)
class Item:
    product: str
    price: float
    quantity: float
    discount: float | None = None
    description: str | None = None


@dataclass(frozen=True)
class Deal:
    opportunity_id: str
    account_id: str
    client_id: int


async def _create(world: FlowWorld, sobject: str, record: dict[str, Any]) -> str:
    [result] = await world.salesforce.create(sobject, [record], priority=P)
    assert result.success, result.errors
    assert result.id is not None
    return result.id


async def standard_pricebook(world: FlowWorld) -> str:
    rows = await world.salesforce.query(
        "SELECT Id FROM Pricebook2 WHERE IsStandard = TRUE", priority=P
    )
    return str(rows[0]["Id"])


async def client(world: FlowWorld, organization: str = "Acme Tools") -> int:
    email = organization.lower().replace(" ", ".") + "@example.com"
    created = await world.freshbooks.create(
        RESOURCES["clients"], {"organization": organization, "email": email}
    )
    return created.id


async def deal(
    world: FlowWorld,
    *,
    items: tuple[Item, ...] = (),
    amount: float | None = None,
    stage: str = "Closed Won",
    linked: bool = True,
    contact_email: str | None = None,
    name: str = "Acme expansion",
    currency: str | None = None,
) -> Deal:
    """Create client, Account, Opportunity (open), its line items, then move it to ``stage``."""
    client_id = await client(world)
    account: dict[str, Any] = {"Name": "Acme Tools"}
    if linked:
        account["FreshBooks_Client_Id__c"] = str(client_id)
    account_id = await _create(world, "Account", account)
    opportunity: dict[str, Any] = {
        "Name": name,
        "AccountId": account_id,
        "StageName": "Prospecting",
        "CloseDate": "2026-11-30",
    }
    if amount is not None:
        opportunity["Amount"] = amount
    if currency is not None:
        opportunity["CurrencyIsoCode"] = currency
    if contact_email:
        opportunity["ContactId"] = await _create(
            world,
            "Contact",
            {"LastName": "Buyer", "Email": contact_email, "AccountId": account_id},
        )
    opportunity_id = await _create(world, "Opportunity", opportunity)
    if items:
        book = await standard_pricebook(world)
        for n, item in enumerate(items):
            product = await _create(world, "Product2", {"Name": item.product, "IsActive": True})
            entry = await _create(
                world,
                "PricebookEntry",
                {"Pricebook2Id": book, "Product2Id": product, "UnitPrice": item.price,
                 "IsActive": True},
            )  # fmt: skip
            line: dict[str, Any] = {
                "OpportunityId": opportunity_id,
                "PricebookEntryId": entry,
                "Quantity": item.quantity,
                "UnitPrice": item.price,
                "SortOrder": n,
            }
            if item.discount is not None:
                line["Discount"] = item.discount
            if item.description is not None:
                line["Description"] = item.description
            await _create(world, "OpportunityLineItem", line)
    await set_stage(world, opportunity_id, stage)
    return Deal(opportunity_id, account_id, client_id)


async def set_stage(world: FlowWorld, opportunity_id: str, stage: str) -> None:
    [result] = await world.salesforce.update(
        "Opportunity", [{"Id": opportunity_id, "StageName": stage}], priority=P
    )
    assert result.success, result.errors


async def invoices_of(world: FlowWorld, client_id: int) -> list[Any]:
    found = []
    async for page in world.freshbooks.list_all(
        RESOURCES["invoices"], search={"customerid": str(client_id)}
    ):
        found += page.records
    return found


def key(opportunity_id: str) -> str:
    return f"salesforce/Opportunity/{opportunity_id}"
