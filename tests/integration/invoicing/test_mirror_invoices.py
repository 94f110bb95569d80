"""The shipped custom-object mirror maps on both sandboxes through the real worker.

An invoice created, edited (lines added and removed), paid, archived and deleted in FreshBooks
follows as one ``FreshBooks_Invoice__c`` with exactly its lines as ``FreshBooks_Invoice_Line__c``
children; a payment as a ``FreshBooks_Payment__c`` under it; a backfill stays in its budget.
"""

from __future__ import annotations

from typing import Any

from freshforce.connectors.freshbooks import RESOURCES
from freshforce.flows.mirror_backfill import backfill

from .conftest import TENANT, FlowWorld
from .deals import _create, client
from .mirrors import (
    edit_lines,
    enable,
    line,
    mirror_once,
    new_invoice,
    rows,
    sf_calls,
    sf_writes,
)

INVOICE_FIELDS = (
    "Id, Name, FreshBooks_Invoice_Id__c, Account__c, Status__c, Invoice_Date__c, Amount__c, "
    "Currency__c, Outstanding__c, Paid__c, Archived__c"
)


async def mirrored(world: FlowWorld, invoice_id: int) -> tuple[list[dict[str, Any]], list[Any]]:
    """The invoice's mirror and its lines as (key, name, quantity, amount), by key."""
    found = await rows(
        world,
        f"SELECT {INVOICE_FIELDS} FROM FreshBooks_Invoice__c "  # noqa: S608 - test SOQL
        f"WHERE FreshBooks_Invoice_Id__c = '{invoice_id}'",
    )
    lines = await rows(
        world,
        "SELECT FreshBooks_Line_Key__c, Name, Quantity__c, Amount__c, Invoice__c "
        "FROM FreshBooks_Invoice_Line__c",
    )
    ours = [r for r in lines if found and r["Invoice__c"] == found[0]["Id"]]
    assert len(ours) == len(lines), "a line hangs off another invoice: an orphan"
    shaped = sorted(
        (r["FreshBooks_Line_Key__c"], r["Name"], r["Quantity__c"], r["Amount__c"]) for r in ours
    )
    return found, shaped


async def test_invoice_follows_through_edits_payment_archive_and_delete(world: FlowWorld) -> None:
    flow = enable(world, "invoices")
    client_id = await client(world)
    account = await _create(
        world, "Account", {"Name": "Acme Tools", "FreshBooks_Client_Id__c": str(client_id)}
    )
    invoice_id = await new_invoice(
        world, client_id, line("Design", "2", "100.00"), line("Build", "1", "50.00"),
        line("Support", "3", "10.00"),
    )  # fmt: skip

    assert await mirror_once(world, flow, invoice_id) == "done"
    [head], lines = await mirrored(world, invoice_id)
    assert head["Account__c"] == account
    assert (head["Status__c"], head["Amount__c"], head["Currency__c"]) == ("Draft", 280.0, "USD")
    assert (head["Invoice_Date__c"], head["Archived__c"]) == ("2026-11-02", False)
    key = str(invoice_id)
    assert lines == [
        (f"{key}-1", "Design", 2.0, 200.0),
        (f"{key}-2", "Build", 1.0, 50.0),
        (f"{key}-3", "Support", 3.0, 30.0),
    ]

    # The same invoice again: nothing differs, nothing is written.
    before = await sf_writes(world)
    assert before > 0
    assert await mirror_once(world, flow, invoice_id) == "done"
    assert await sf_writes(world) == before
    # Lines removed and added: the children are exactly the invoice's lines.
    await edit_lines(world, invoice_id, line("Design", "4", "100.00"), line("Extra", "1", "5.00"))
    assert await mirror_once(world, flow, invoice_id) == "done"
    [head], lines = await mirrored(world, invoice_id)
    assert head["Amount__c"] == 405.0
    assert lines == [(f"{key}-1", "Design", 4.0, 400.0), (f"{key}-2", "Extra", 1.0, 5.0)]
    await edit_lines(
        world, invoice_id, line("Design", "4", "100.00"), line("Extra", "1", "5.00"),
        line("Travel", "1", "95.00"), line("Fees", "2", "25.00"),
    )  # fmt: skip
    assert await mirror_once(world, flow, invoice_id) == "done"
    [head], lines = await mirrored(world, invoice_id)
    assert [k for k, *_ in lines] == [f"{key}-{n}" for n in (1, 2, 3, 4)]

    await world.fb_pay(invoice_id, "550.00", date="2026-12-01")
    assert await mirror_once(world, flow, invoice_id) == "done"
    [head], _ = await mirrored(world, invoice_id)
    assert (head["Status__c"], head["Paid__c"], head["Outstanding__c"]) == ("Paid", 550.0, 0.0)

    await world.freshbooks.set_vis_state(RESOURCES["invoices"], invoice_id, 2)
    assert await mirror_once(world, flow, invoice_id) == "done"
    [head], lines = await mirrored(world, invoice_id)
    assert head["Archived__c"] is True
    assert len(lines) == 4

    await world.freshbooks.delete(RESOURCES["invoices"], invoice_id)
    assert await mirror_once(world, flow, invoice_id) == "done"
    found, lines = await mirrored(world, invoice_id)
    assert (found, lines) == ([], [])


async def test_payment_mirrors_under_its_invoice(world: FlowWorld) -> None:
    invoices = enable(world, "invoices")
    payments = enable(world, "payments")
    client_id = await client(world)
    invoice_id = await new_invoice(world, client_id, line("Design", "1", "80.00"))
    await mirror_once(world, invoices, invoice_id)
    payment = await world.fb_pay(invoice_id, "30.00", date="2026-12-02")

    await world.enqueue(payments.name, f"freshbooks/payment/{payment['id']}")
    await world.work([payments])

    [head], _ = await mirrored(world, invoice_id)
    [paid] = await rows(
        world,
        "SELECT Name, FreshBooks_Payment_Id__c, Invoice__c, Amount__c, Currency__c, "
        "Payment_Date__c FROM FreshBooks_Payment__c",
    )
    assert paid == {
        "Name": f"Payment {payment['id']}",
        "FreshBooks_Payment_Id__c": str(payment["id"]),
        "Invoice__c": head["Id"],
        "Amount__c": 30.0,
        "Currency__c": "USD",
        "Payment_Date__c": "2026-12-02",
    }


async def test_backfill_costs_under_one_salesforce_call_per_100_records(world: FlowWorld) -> None:
    flow = enable(world, "invoices")
    client_id = await client(world)
    count = 300
    three = [line("Design", "2", "100.00"), line("Build", "1", "50.00"), line("Fees", "1", "5")]
    seeded = [
        {"fields": {"customerid": client_id, "currency_code": "USD", "lines": three}}
        for _ in range(count)
    ]
    made = await world.fb_admin.post(
        "/_sandbox/freshbooks/records", json={"resource": "invoices", "records": seeded}
    )
    assert made.status_code == 201, made.text
    await world.sf_admin.delete("/_sandbox/requests")
    pair = await world.runtime.pair(TENANT)

    report = await backfill(flow, pair)

    records = count * 4  # an invoice and its three lines
    calls = await sf_calls(world)
    assert report.counts == {"written": count, "unchanged": 0, "failed": 0}, report.errors
    assert calls * 100 <= records, f"{calls} Salesforce calls for {records} records"
    mirrors = await rows(world, "SELECT COUNT() FROM FreshBooks_Invoice_Line__c")
    assert mirrors is not None
    again = await backfill(flow, pair)
    assert again.counts == {"written": 0, "unchanged": count, "failed": 0}
