"""The guard's hard rules on the sandboxes: each odd write is held, then released and written."""

from __future__ import annotations

from importlib.resources import files

import sqlalchemy as sa

from freshforce.assist.review import settle
from freshforce.connectors.freshbooks import RESOURCES
from freshforce.connectors.salesforce import Priority
from freshforce.engine.flow import Flow
from freshforce.flows.invoices import invoices_flow
from freshforce.flows.payments import payments_flow
from freshforce.store.anomalies import list_anomalies, observe
from freshforce.store.schema import idempotency, links

from .conftest import TENANT, FlowWorld
from .deals import Item, _create, deal, invoices_of, key, set_stage
from .test_payments import invoiced, paid


async def held_once(world: FlowWorld) -> tuple[int, tuple[str, ...]]:
    async with world.engine.connect() as db:
        [held] = await list_anomalies(db, TENANT, status="open")
    return held.id, held.reasons


async def release(world: FlowWorld, flow: Flow) -> tuple[str, ...]:
    """Accept the one held write from the review queue and run ``flow``; return its reasons."""
    ident, reasons = await held_once(world)
    assert await settle(world.engine, world.runtime.queue(), TENANT, ident, accept=True)
    await world.work([flow])
    return reasons


async def test_a_payment_on_a_deleted_invoice_is_held_then_released(world: FlowWorld) -> None:
    opportunity_id, invoice_id = await invoiced(world, amount=100.0)
    payment = await world.fb_pay(invoice_id, "100.00", date="2026-12-01")
    await world.freshbooks.set_vis_state(RESOURCES["invoices"], invoice_id, 1)
    flow = payments_flow(world.runtime, world.maps())
    await world.enqueue("payments", f"freshbooks/payment/{payment['id']}")
    await world.work([flow])
    assert paid(await world.opportunity(opportunity_id))[0] == "Unpaid"

    assert await release(world, flow) == ("a payment on invoice 0000001, which is deleted",)
    assert paid(await world.opportunity(opportunity_id))[:2] == ("Paid", 100.0)


async def test_a_payment_on_a_draft_is_held_when_invoices_are_sent(world: FlowWorld) -> None:
    opportunity_id, invoice_id = await invoiced(world, amount=100.0)  # left a draft
    payment = await world.fb_pay(invoice_id, "40.00", date="2026-12-01")
    flow = payments_flow(world.runtime, world.maps(invoice_send=True))
    await world.enqueue("payments", f"freshbooks/payment/{payment['id']}")
    await world.work([flow])
    assert paid(await world.opportunity(opportunity_id))[0] == "Unpaid"

    reasons = await release(world, flow)
    assert reasons == ("a payment on invoice 0000001, which is a draft (never sent)",)
    assert paid(await world.opportunity(opportunity_id))[:2] == ("Partially Paid", 40.0)


async def test_an_unseen_payment_method_is_flagged_and_written(world: FlowWorld) -> None:
    async with world.engine.begin() as db:  # the flow's history: 20 payments by cheque
        for n in range(20):
            await observe(db, (TENANT, "payments", "1", f"old/{n}"), {}, {"method": "Check"})
    opportunity_id, invoice_id = await invoiced(world, amount=100.0)
    payment = await world.fb_pay(invoice_id, "100.00", date="2026-12-01", type="Bitcoin")
    await world.enqueue("payments", f"freshbooks/payment/{payment['id']}")
    await world.work([payments_flow(world.runtime, world.maps())])

    assert paid(await world.opportunity(opportunity_id))[0] == "Paid"  # a flag writes
    async with world.engine.connect() as db:
        [flagged] = await list_anomalies(db, TENANT)
    assert (flagged.status, flagged.reasons) == (
        "flagged",
        ("method 'Bitcoin' was never seen before in this flow",),
    )


def _no_discount_map(world: FlowWorld) -> None:
    shipped = files("freshforce.mapping.defaults").joinpath("invoices.yaml").read_text()
    wrong = shipped.replace("'UnitPrice * (1 - (Discount ? Discount : 0) / 100)'", "'UnitPrice'")
    assert wrong != shipped
    (world.config_dir / "invoices.yaml").write_text(wrong, encoding="utf-8")


async def test_an_amount_unlike_the_lines_is_held_then_released(world: FlowWorld) -> None:
    _no_discount_map(world)  # a map that forgets the discount: lines total 200, Amount 180
    made = await deal(world, items=(Item("Widget", 100.0, 2, discount=10.0),))
    flow = invoices_flow(world.runtime, world.maps())
    await world.enqueue("invoices", key(made.opportunity_id))
    await world.work([flow])
    assert await invoices_of(world, made.client_id) == []

    assert await release(world, flow) == (
        (
            "the Opportunity's Amount 180.00 USD differs from its invoice lines' total "
            "200.00 USD by 20.00 USD"
        ),
    )
    [invoice] = await invoices_of(world, made.client_id)
    assert invoice.amount.amount == 200


async def test_a_second_invoice_for_one_opportunity_is_held(world: FlowWorld) -> None:
    made = await deal(world, amount=700.0)
    flow = invoices_flow(world.runtime, world.maps())
    await world.enqueue("invoices", key(made.opportunity_id))
    await world.work([flow])
    # The store forgot the deal (a restore of an old backup) and someone cleared its field.
    async with world.engine.begin() as db:
        await db.execute(sa.delete(links).where(links.c.flow == "invoices"))
        await db.execute(sa.delete(idempotency))
    [result] = await world.salesforce.update(
        "Opportunity",
        [{"Id": made.opportunity_id, "FreshBooks_Invoice_Id__c": None}],
        priority=Priority.CLIENTS,
    )
    assert result.success
    await world.enqueue("invoices", key(made.opportunity_id))
    await world.work([flow])
    assert len(await invoices_of(world, made.client_id)) == 1

    reasons = await release(world, flow)
    assert reasons == (
        f"the Opportunity has invoice 0000001 already (its reference {made.opportunity_id})",
    )
    assert len(await invoices_of(world, made.client_id)) == 2  # accepted: written


async def test_same_client_amount_and_day_is_held_then_released(world: FlowWorld) -> None:
    first = await deal(world, amount=640.0)
    flow = invoices_flow(world.runtime, world.maps())
    await world.enqueue("invoices", key(first.opportunity_id))
    await world.work([flow])
    twin = await _create(
        world,
        "Opportunity",
        {"Name": "Acme expansion (copy)", "AccountId": first.account_id,
         "StageName": "Prospecting", "CloseDate": "2026-11-30", "Amount": 640.0},
    )  # fmt: skip
    await set_stage(world, twin, "Closed Won")
    await world.enqueue("invoices", key(twin))
    await world.work([flow])
    assert len(await invoices_of(world, first.client_id)) == 1

    assert await release(world, flow) == (
        "the client has invoice 0000001 of 640.00 USD dated 2026-11-30 already: a duplicate?",
    )
    assert len(await invoices_of(world, first.client_id)) == 2


async def test_a_rule_the_flow_map_disables_lets_the_write_through(world: FlowWorld) -> None:
    shipped = files("freshforce.mapping.defaults").joinpath("invoices.yaml").read_text()
    extra = "\nanomalies:\n  disable: [same_day_duplicate]\n"
    (world.config_dir / "invoices.yaml").write_text(shipped + extra, encoding="utf-8")
    first = await deal(world, amount=640.0)
    flow = invoices_flow(world.runtime, world.maps())
    await world.enqueue("invoices", key(first.opportunity_id))
    await world.work([flow])
    twin = await _create(
        world,
        "Opportunity",
        {"Name": "Acme expansion (copy)", "AccountId": first.account_id,
         "StageName": "Prospecting", "CloseDate": "2026-11-30", "Amount": 640.0},
    )  # fmt: skip
    await set_stage(world, twin, "Closed Won")
    await world.enqueue("invoices", key(twin))
    await world.work([flow])

    assert len(await invoices_of(world, first.client_id)) == 2
    async with world.engine.connect() as db:
        assert await list_anomalies(db, TENANT) == []
