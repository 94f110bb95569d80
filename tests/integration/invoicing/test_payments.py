"""The payments flow on both sandboxes through the real worker, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from freshforce.assist.review import settle
from freshforce.connectors.freshbooks import RESOURCES
from freshforce.flows.invoices import invoices_flow
from freshforce.flows.payments import PaymentsFlow, payments_flow
from freshforce.store.anomalies import list_anomalies
from freshforce.store.schema import field_writes

from .conftest import TENANT, FlowWorld
from .deals import client, deal, invoices_of, key


def flow(world: FlowWorld) -> PaymentsFlow:
    return payments_flow(world.runtime, world.maps())


async def invoiced(world: FlowWorld, amount: float = 300.0) -> tuple[str, int]:
    """A won deal invoiced by the invoices flow: its Opportunity id and invoice id."""
    made = await deal(world, amount=amount)
    await world.enqueue("invoices", key(made.opportunity_id))
    await world.work([invoices_flow(world.runtime, world.maps())])
    [invoice] = await invoices_of(world, made.client_id)
    return made.opportunity_id, invoice.id


async def pay(world: FlowWorld, invoice_id: int, amount: str, day: str) -> dict[str, Any]:
    payment = await world.fb_pay(invoice_id, amount, date=day)
    await world.enqueue("payments", f"freshbooks/payment/{payment['id']}")
    await world.work([flow(world)])
    return payment


async def release(world: FlowWorld) -> tuple[str, ...]:
    """Accept the one write the guard holds, run the flow; return why it was held."""
    async with world.engine.connect() as db:
        [held] = await list_anomalies(db, TENANT, status="open")
    assert await settle(world.engine, world.runtime.queue(), TENANT, held.id, accept=True)
    await world.work([flow(world)])
    return held.reasons


def paid(opportunity: dict[str, Any]) -> tuple[Any, ...]:
    return (
        opportunity["FreshBooks_Payment_Status__c"],
        opportunity["FreshBooks_Amount_Paid__c"],
        opportunity["FreshBooks_Balance__c"],
        opportunity["FreshBooks_Last_Payment_Date__c"],
    )


async def sf_writes(world: FlowWorld) -> list[dict[str, Any]]:
    requests = await world.sf_admin.get(
        "/_sandbox/requests", params={"path": "/services/data/v59.0/composite/sobjects"}
    )
    return [r for r in requests.json()["requests"] if r["method"] == "PATCH"]


async def test_partial_then_full_payment(world: FlowWorld) -> None:
    opportunity_id, invoice_id = await invoiced(world)

    await pay(world, invoice_id, "100.00", "2026-12-01")
    assert paid(await world.opportunity(opportunity_id)) == (
        "Partially Paid", 100.0, 200.0, "2026-12-01",
    )  # fmt: skip

    await pay(world, invoice_id, "200.00", "2026-12-03")
    assert paid(await world.opportunity(opportunity_id)) == ("Paid", 300.0, 0.0, "2026-12-03")
    assert set((await world.statuses()).values()) == {"done"}
    async with world.engine.connect() as db:
        rows = (
            await db.execute(
                sa.select(field_writes.c.field, field_writes.c.before, field_writes.c.after)
                .where(field_writes.c.flow == "payments")
                .order_by(field_writes.c.id)
            )
        ).all()
    assert ("FreshBooks_Payment_Status__c", "Unpaid", "Partially Paid") in rows
    assert ("FreshBooks_Payment_Status__c", "Partially Paid", "Paid") in rows


async def test_overpayment_and_refunds(world: FlowWorld) -> None:
    opportunity_id, invoice_id = await invoiced(world, amount=50.0)

    await pay(world, invoice_id, "80.00", "2026-12-01")
    assert paid(await world.opportunity(opportunity_id))[0] == "Unpaid"  # held for review
    assert await release(world) == (
        (
            "payment 300001 of 80.00 USD is above the 50.00 USD outstanding on invoice 0000001 "
            "(total paid 80.00 USD of 50.00 USD)"
        ),
    )
    assert paid(await world.opportunity(opportunity_id)) == (
        "Overpaid", 80.0, 0.0, "2026-12-01",
    )  # fmt: skip

    await pay(world, invoice_id, "-80.00", "2026-12-02")
    assert paid(await world.opportunity(opportunity_id)) == (
        "Refunded", 0.0, 50.0, "2026-12-01",
    )  # fmt: skip


async def test_deleted_payment_rolls_the_status_back(world: FlowWorld) -> None:
    opportunity_id, invoice_id = await invoiced(world, amount=50.0)
    payment = await pay(world, invoice_id, "50.00", "2026-12-01")
    assert paid(await world.opportunity(opportunity_id))[0] == "Paid"

    await world.freshbooks.set_vis_state(RESOURCES["payments"], payment["id"], 1)
    await world.enqueue("payments", f"freshbooks/payment/{payment['id']}")
    await world.work([flow(world)])

    assert paid(await world.opportunity(opportunity_id)) == ("Unpaid", 0.0, 50.0, None)


async def test_a_burst_for_one_invoice_is_one_salesforce_write(world: FlowWorld) -> None:
    opportunity_id, invoice_id = await invoiced(world, amount=90.0)
    before = len(await sf_writes(world))
    keys = [f"freshbooks/invoice/{invoice_id}"]
    for amount in ("10.00", "20.00", "30.00"):
        payment = await world.fb_pay(invoice_id, amount, date="2026-12-02")
        keys.append(f"freshbooks/payment/{payment['id']}")
    await world.enqueue("payments", *keys)
    await world.work([flow(world)])

    assert paid(await world.opportunity(opportunity_id)) == (
        "Partially Paid", 60.0, 30.0, "2026-12-02",
    )  # fmt: skip
    assert len(await sf_writes(world)) == before + 1
    assert set((await world.statuses()).values()) == {"done"}


async def test_an_invoice_that_is_not_ours_is_skipped(world: FlowWorld) -> None:
    stranger = await client(world, "Someone Else")
    invoice = await world.freshbooks.create(
        RESOURCES["invoices"],
        {"customerid": stranger, "lines": [{"name": "x", "unit_cost": {"amount": "5.00"}}]},
    )
    payment = await world.fb_pay(invoice.id, "5.00")
    before = len(await sf_writes(world))
    await world.enqueue(
        "payments", f"freshbooks/payment/{payment['id']}", f"freshbooks/invoice/{invoice.id}"
    )
    await world.work([flow(world)])

    jobs = await world.jobs()
    attempts = [await world.runtime.queue().attempts(job.id) for job in jobs]
    assert {a[-1].outcome for a in attempts} == {"skipped"}
    assert len(await sf_writes(world)) == before


async def test_nothing_changed_writes_nothing(world: FlowWorld) -> None:
    opportunity_id, invoice_id = await invoiced(world, amount=40.0)
    await pay(world, invoice_id, "40.00", "2026-12-01")
    before = len(await sf_writes(world))
    await world.enqueue("payments", f"freshbooks/invoice/{invoice_id}")
    await world.work([flow(world)])

    assert len(await sf_writes(world)) == before
    assert paid(await world.opportunity(opportunity_id))[0] == "Paid"


async def test_a_payment_in_another_currency_does_not_count(world: FlowWorld) -> None:
    # FreshBooks' rule (docs/sandbox.md, invoice money rules): a payment in another currency
    # than the invoice's is stored and listed, but not counted; the API has no exchange rates.
    opportunity_id, invoice_id = await invoiced(world, amount=100.0)
    await pay(world, invoice_id, "40.00", "2026-12-01")
    foreign = await world.fb_pay(invoice_id, "60.00", code="EUR", date="2026-12-02")
    await world.enqueue("payments", f"freshbooks/payment/{foreign['id']}")
    await world.work([flow(world)])
    assert paid(await world.opportunity(opportunity_id))[1] == 40.0  # held: not written again
    [why] = await release(world)  # held, released: nothing to write, it does not count
    assert why == f"payment {foreign['id']} of 60.00 EUR is not in invoice 0000001's currency USD"

    assert paid(await world.opportunity(opportunity_id)) == (
        "Partially Paid", 40.0, 60.0, "2026-12-01",
    )  # fmt: skip
    [invoice] = [
        r async for page in world.freshbooks.list_all(
            RESOURCES["invoices"], search={"invoiceid": str(invoice_id)}
        ) for r in page.records
    ]  # fmt: skip
    assert invoice.paid is not None
    assert invoice.paid.amount == 40  # FreshBooks' own total agrees with the ledger's
