"""The shipped Orders mirror map: an invoice as a Draft Order with one OrderItem per line.

An activated Order is not edited: the FreshBooks change is dead-lettered for a person to
review, and neither the Order nor its products change.
"""

from __future__ import annotations

from typing import Any

from freshforce.errors import ConflictError
from freshforce.flows.mirror import MirrorFlow

from .conftest import FlowWorld
from .deals import P, _create, client, standard_pricebook
from .mirrors import edit_lines, enable, line, mirror_once, new_invoice, rows


async def orders_flow(world: FlowWorld) -> MirrorFlow:
    book = await standard_pricebook(world)
    product = await _create(world, "Product2", {"Name": "FreshBooks line", "IsActive": True})
    entry = await _create(
        world,
        "PricebookEntry",
        {"Pricebook2Id": book, "Product2Id": product, "UnitPrice": 0, "IsActive": True},
    )
    return enable(world, "orders", order_pricebook_id=book, order_pricebook_entry_id=entry)


async def order_of(world: FlowWorld, invoice_id: int) -> tuple[dict[str, Any], list[Any]]:
    [order] = await rows(
        world,
        "SELECT Id, Name, AccountId, Status, EffectiveDate, TotalAmount FROM Order "  # noqa: S608
        f"WHERE FreshBooks_Invoice_Id__c = '{invoice_id}'",
    )
    items = await rows(
        world,
        "SELECT FreshBooks_Line_Key__c, Description, Quantity, UnitPrice, OrderId FROM OrderItem",
    )
    assert all(i["OrderId"] == order["Id"] for i in items), "an item of no Order: an orphan"
    shaped = sorted(
        (i["FreshBooks_Line_Key__c"], i["Description"], i["Quantity"], i["UnitPrice"])
        for i in items
    )
    return order, shaped


async def test_invoice_becomes_a_draft_order_and_its_items_follow(world: FlowWorld) -> None:
    flow = await orders_flow(world)
    client_id = await client(world)
    account = await _create(
        world, "Account", {"Name": "Acme Tools", "FreshBooks_Client_Id__c": str(client_id)}
    )
    invoice_id = await new_invoice(
        world, client_id, line("Design", "2", "100.00"), line("Build", "1", "50.00")
    )

    assert await mirror_once(world, flow, invoice_id) == "done"
    order, items = await order_of(world, invoice_id)
    assert (order["AccountId"], order["Status"], order["EffectiveDate"]) == (
        account, "Draft", "2026-11-02",
    )  # fmt: skip
    assert order["TotalAmount"] == 250.0
    key = str(invoice_id)
    assert items == [(f"{key}-1", "Design", 2.0, 100.0), (f"{key}-2", "Build", 1.0, 50.0)]

    await edit_lines(world, invoice_id, line("Design", "3", "100.00"))
    assert await mirror_once(world, flow, invoice_id) == "done"
    order, items = await order_of(world, invoice_id)
    assert items == [(f"{key}-1", "Design", 3.0, 100.0)]
    assert order["TotalAmount"] == 300.0


async def test_an_activated_order_is_not_edited_but_flagged(world: FlowWorld) -> None:
    flow = await orders_flow(world)
    client_id = await client(world)
    await _create(world, "Account", {"Name": "Acme", "FreshBooks_Client_Id__c": str(client_id)})
    invoice_id = await new_invoice(world, client_id, line("Design", "2", "100.00"))
    await mirror_once(world, flow, invoice_id)
    order, before = await order_of(world, invoice_id)
    [result] = await world.salesforce.update(
        "Order", [{"Id": order["Id"], "Status": "Activated"}], priority=P
    )
    assert result.success, result.errors

    await edit_lines(world, invoice_id, line("Design", "2", "100.00"), line("Rush", "1", "40"))
    assert await mirror_once(world, flow, invoice_id) == "dead"

    [letter] = await world.runtime.queue().dead_letters()
    assert letter.error_class == ConflictError.__name__
    assert letter.error_message is not None
    assert f"Order {order['Id']}" in letter.error_message
    assert "flagged for review" in letter.error_message
    after, items = await order_of(world, invoice_id)
    assert (after["Status"], after["TotalAmount"], items) == ("Activated", 200.0, before)


async def test_an_order_waits_for_its_account(world: FlowWorld) -> None:
    flow = await orders_flow(world)
    client_id = await client(world)
    invoice_id = await new_invoice(world, client_id, line("Design", "1", "10.00"))

    await world.enqueue(flow.name, f"freshbooks/invoice/{invoice_id}")
    await world.work([flow])

    [job] = await world.jobs()
    assert job.last_error is not None
    assert "AccountId" in job.last_error
    assert "no Salesforce record yet" in job.last_error
    assert await rows(world, "SELECT Id FROM Order") == []
