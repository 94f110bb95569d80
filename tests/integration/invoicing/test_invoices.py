"""The invoices flow on both sandboxes through the real worker, on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from freshforce.connectors.freshbooks import RESOURCES
from freshforce.connectors.salesforce import Priority
from freshforce.flows.clients import ClientsFlow
from freshforce.flows.invoices import InvoicesFlow, invoices_flow
from freshforce.store.idempotency import CreateRef, begin_create
from freshforce.store.linking import NewLink, create_link
from freshforce.store.links import find_links
from freshforce.store.schema import field_writes
from freshforce.store.scope import Scope

from .conftest import TENANT, FlowWorld
from .deals import Item, deal, invoices_of, key, set_stage

THREE = (
    Item("Anvil", 100.0, 3, description="Forged steel"),
    Item("Hammer", 25.5, 2, discount=10.0),
    Item("Tongs", 40.0, 1),
)


def flow(world: FlowWorld, **values: object) -> InvoicesFlow:
    return invoices_flow(world.runtime, world.maps(**values))


async def ledger_state(world: FlowWorld, opportunity_id: str) -> tuple[str, str | None]:
    async with world.engine.begin() as db:
        entry, new = await begin_create(
            db, Scope(TENANT, "invoices"), CreateRef("freshbooks", "invoice", opportunity_id)
        )
    assert not new
    return entry.state.value, entry.remote_id


async def test_won_deal_with_three_items_becomes_one_invoice_with_three_lines(
    world: FlowWorld,
) -> None:
    made = await deal(world, items=THREE)
    await world.enqueue("invoices", key(made.opportunity_id))
    await world.work([flow(world)])

    [invoice] = await invoices_of(world, made.client_id)
    lines = [
        (line.name, line.description, line.qty, line.unit_cost.amount) for line in invoice.lines
    ]
    assert lines == [
        ("Acme expansion Anvil", "Forged steel", Decimal(3), Decimal("100.00")),
        ("Acme expansion Hammer", "", Decimal(2), Decimal("22.95")),  # 10 % off 25.50
        ("Acme expansion Tongs", "", Decimal(1), Decimal("40.00")),
    ]
    assert invoice.amount is not None
    assert invoice.amount.amount == Decimal("385.90")
    assert invoice.currency_code == "USD"
    assert invoice.raw["po_number"] == made.opportunity_id
    assert invoice.raw["create_date"] == "2026-11-30"
    assert invoice.raw["description"] == "Acme expansion"
    assert invoice.v3_status == "draft"

    back = await world.opportunity(made.opportunity_id)
    assert back["FreshBooks_Invoice_Id__c"] == str(invoice.id)
    assert back["FreshBooks_Invoice_Number__c"] == invoice.invoice_number
    assert back["FreshBooks_Invoice_Url__c"] == (
        f"https://my.freshbooks.com/#/invoice/SBX7QK-{invoice.id}"
    )
    assert back["FreshBooks_Payment_Status__c"] == "Unpaid"
    assert await world.statuses() == {key(made.opportunity_id): "done"}
    assert await ledger_state(world, made.opportunity_id) == ("done", str(invoice.id))
    async with world.engine.connect() as db:
        [link] = await find_links(db, Scope(TENANT, "invoices"), freshbooks_ids=[str(invoice.id)])
        logged = (await db.execute(sa.select(field_writes.c.system, field_writes.c.field))).all()
    assert link.salesforce_id == made.opportunity_id
    assert ("salesforce", "FreshBooks_Invoice_Id__c") in logged
    assert ("freshbooks", "customerid") in logged


async def test_deal_without_items_gets_one_line_for_its_amount(world: FlowWorld) -> None:
    made = await deal(world, amount=1250.5)
    await world.enqueue("invoices", key(made.opportunity_id))
    await world.work([flow(world)])

    [invoice] = await invoices_of(world, made.client_id)
    [line] = invoice.lines
    assert (line.name, line.qty, line.unit_cost.amount) == (
        "Acme expansion",
        Decimal(1),
        Decimal("1250.50"),
    )
    back = await world.opportunity(made.opportunity_id)
    assert back["FreshBooks_Invoice_Id__c"] == str(invoice.id)


async def test_open_deal_is_skipped_and_gets_no_invoice(world: FlowWorld) -> None:
    made = await deal(world, amount=10.0, stage="Negotiation/Review")
    await world.enqueue("invoices", key(made.opportunity_id))
    await world.work([flow(world)])

    assert await invoices_of(world, made.client_id) == []
    assert await world.statuses() == {key(made.opportunity_id): "done"}
    assert (await world.opportunity(made.opportunity_id))["FreshBooks_Invoice_Id__c"] is None


async def test_a_stage_named_in_values_counts_as_won(world: FlowWorld) -> None:
    made = await deal(world, amount=10.0, stage="Negotiation/Review")
    await world.enqueue("invoices", key(made.opportunity_id))
    await world.work([flow(world, won_stages=["Negotiation/Review"])])

    assert len(await invoices_of(world, made.client_id)) == 1


async def test_resaved_won_deal_makes_no_second_invoice(world: FlowWorld) -> None:
    made = await deal(world, items=THREE)
    invoices = flow(world)
    await world.enqueue("invoices", key(made.opportunity_id))
    await world.work([invoices])
    [result] = await world.salesforce.update(
        "Opportunity",
        [{"Id": made.opportunity_id, "Description": "re-saved"}],
        priority=Priority.CLIENTS,
    )
    assert result.success
    await world.enqueue("invoices", key(made.opportunity_id))
    await world.work([invoices])

    assert len(await invoices_of(world, made.client_id)) == 1
    posts = [
        r for r in await world.fb_requests("/accounting/account/SBX7QK/invoices/invoices")
        if r["method"] == "POST"
    ]  # fmt: skip
    assert len(posts) == 1


async def test_duplicated_jobs_for_one_deal_make_one_invoice(world: FlowWorld) -> None:
    made = await deal(world, items=THREE)
    short = made.opportunity_id[:15]
    await world.enqueue("invoices", key(made.opportunity_id), key(made.opportunity_id), key(short))
    await world.work([flow(world)])
    await world.enqueue("invoices", key(short))
    await world.work([flow(world)])

    assert len(await invoices_of(world, made.client_id)) == 1


async def test_ambiguous_invoice_post_is_adopted_on_retry(world: FlowWorld) -> None:
    made = await deal(world, items=THREE)
    await world.fb_fault(
        kind="ambiguous", method="POST", path="/accounting/account/*/invoices/invoices", times=1
    )
    await world.enqueue("invoices", key(made.opportunity_id))
    await world.work([flow(world)])

    [invoice] = await invoices_of(world, made.client_id)
    assert len(invoice.lines) == 3
    [job] = await world.jobs()
    assert (job.status.value, job.attempt) == ("done", 2)
    attempts = await world.runtime.queue().attempts(job.id)
    assert attempts[0].error_class == "AmbiguousWriteError"
    back = await world.opportunity(made.opportunity_id)
    assert back["FreshBooks_Invoice_Id__c"] == str(invoice.id)
    assert await ledger_state(world, made.opportunity_id) == ("done", str(invoice.id))


async def test_worker_killed_between_create_and_write_back_adopts(world: FlowWorld) -> None:
    made = await deal(world, amount=500.0)
    # What a killed attempt leaves: the pending ledger entry and the invoice it created.
    async with world.engine.begin() as db:
        await begin_create(
            db,
            Scope(TENANT, "invoices"),
            CreateRef("freshbooks", "invoice", made.opportunity_id),
        )
    created = await world.freshbooks.create(
        RESOURCES["invoices"],
        {"customerid": made.client_id, "po_number": made.opportunity_id,
         "lines": [{"name": "x", "qty": "1", "unit_cost": {"amount": "500.00"}}]},
    )  # fmt: skip
    await world.enqueue("invoices", key(made.opportunity_id))
    await world.work([flow(world)])

    [invoice] = await invoices_of(world, made.client_id)
    assert invoice.id == created.id
    back = await world.opportunity(made.opportunity_id)
    assert back["FreshBooks_Invoice_Id__c"] == str(created.id)


async def test_sent_by_configuration_emails_the_contact(world: FlowWorld) -> None:
    made = await deal(world, amount=80.0, contact_email="buyer@acme.example")
    await world.enqueue("invoices", key(made.opportunity_id))
    await world.work([flow(world, invoice_send=True)])

    [invoice] = await invoices_of(world, made.client_id)
    assert invoice.v3_status == "sent"
    path = f"/accounting/account/SBX7QK/invoices/invoices/{invoice.id}"
    puts = [r for r in await world.fb_requests(path) if r["method"] == "PUT"]
    assert len(puts) == 1


async def test_account_linked_by_the_clients_flow_is_used(world: FlowWorld) -> None:
    made = await deal(world, amount=42.0, linked=False)
    async with world.engine.begin() as db:
        await create_link(
            db, Scope(TENANT, "clients"), NewLink(str(made.client_id), made.account_id)
        )
    await world.enqueue("invoices", key(made.opportunity_id))
    await world.work([flow(world)])

    assert len(await invoices_of(world, made.client_id)) == 1


async def test_unlinked_account_gets_its_client_linked_first_then_one_invoice(
    world: FlowWorld,
) -> None:
    made = await deal(world, amount=42.0, linked=False)
    clients = ClientsFlow(world.maps()["clients"], world.runtime.pair, world.engine)
    await world.enqueue("invoices", key(made.opportunity_id))
    await world.work([flow(world), clients])

    # The invoice job asked the clients flow, which matched the existing client by its name.
    async with world.engine.connect() as db:
        [link] = await find_links(db, Scope(TENANT, "clients"), salesforce_ids=[made.account_id])
    assert link.freshbooks_id == str(made.client_id)
    assert len(await invoices_of(world, made.client_id)) == 1
    statuses = await world.statuses()
    assert statuses[key(made.opportunity_id)] == "done"
    assert statuses[f"salesforce/Account/{made.account_id}"] == "done"


async def test_lost_deal_moved_back_to_won_is_invoiced_once(world: FlowWorld) -> None:
    made = await deal(world, amount=99.0, stage="Closed Lost")
    invoices = flow(world)
    await world.enqueue("invoices", key(made.opportunity_id))
    await world.work([invoices])
    assert await invoices_of(world, made.client_id) == []
    await set_stage(world, made.opportunity_id, "Closed Won")
    await world.enqueue("invoices", key(made.opportunity_id))
    await world.work([invoices])

    assert len(await invoices_of(world, made.client_id)) == 1


async def test_a_multi_currency_deal_is_invoiced_in_its_currency(world: FlowWorld) -> None:
    switched = await world.sf_admin.post("/_sandbox/salesforce/multi-currency")
    codes = {c["IsoCode"] for c in switched.json()["currencies"] if c["IsActive"]}
    foreign = min(codes - {"USD"})
    made = await deal(world, amount=70.0, currency=foreign)
    await world.enqueue("invoices", key(made.opportunity_id))
    await world.work([flow(world)])

    [invoice] = await invoices_of(world, made.client_id)
    assert invoice.currency_code == foreign
    assert invoice.amount is not None
    assert (invoice.amount.amount, invoice.amount.code) == (Decimal("70.00"), foreign)


async def test_a_deal_deleted_before_its_invoice_is_skipped_not_dead_lettered(
    world: FlowWorld,
) -> None:
    made = await deal(world, amount=12.0)
    deleted = await world.sf_admin.post(
        "/_sandbox/salesforce/ui/delete", json={"id": made.opportunity_id}
    )
    assert deleted.status_code == 200, deleted.text
    await world.enqueue("invoices", key(made.opportunity_id))
    await world.work([flow(world)])

    [job] = await world.jobs()
    attempts = await world.runtime.queue().attempts(job.id)
    assert [a.outcome for a in attempts] == ["skipped"]
    assert await world.runtime.queue().dead_letters() == []
    assert await invoices_of(world, made.client_id) == []
