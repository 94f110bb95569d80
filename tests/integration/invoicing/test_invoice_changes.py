"""Changes to an invoiced deal, by policy, through the real worker on both sandboxes."""

from __future__ import annotations

from decimal import Decimal

from freshforce.connectors.salesforce import Priority
from freshforce.connectors.salesforce.soql import literal
from freshforce.engine.settle import settle_conflict
from freshforce.flows.invoices import InvoicesFlow, invoices_flow
from freshforce.store.conflicts import Conflict, ConflictStatus, Resolution, list_conflicts

from .conftest import TENANT, FlowWorld
from .deals import Deal, Item, deal, invoices_of, key, set_stage

TWO = (Item("Anvil", 100.0, 3), Item("Hammer", 25.0, 2))
P = Priority.CLIENTS


def flow(world: FlowWorld, **values: object) -> InvoicesFlow:
    return invoices_flow(world.runtime, world.maps(**values))


async def invoiced(world: FlowWorld, invoices: InvoicesFlow) -> Deal:
    made = await deal(world, items=TWO)
    await world.enqueue("invoices", key(made.opportunity_id))
    await world.work([invoices])
    assert len(await invoices_of(world, made.client_id)) == 1
    return made


async def change_deal(world: FlowWorld, made: Deal) -> None:
    """A salesperson raises the first line's quantity and moves the close date."""
    where = f"OpportunityId = {literal(made.opportunity_id)}"
    soql = f"SELECT Id FROM OpportunityLineItem WHERE {where}"  # noqa: S608 - SOQL, literal()
    rows = await world.salesforce.query(f"{soql} ORDER BY SortOrder", priority=P)
    first = str(rows[0]["Id"])
    [line] = await world.salesforce.update(
        "OpportunityLineItem", [{"Id": first, "Quantity": 5}], priority=P
    )
    [head] = await world.salesforce.update(
        "Opportunity", [{"Id": made.opportunity_id, "CloseDate": "2026-12-15"}], priority=P
    )
    assert line.success
    assert head.success


async def conflicts(world: FlowWorld) -> list[Conflict]:
    async with world.engine.connect() as db:
        return await list_conflicts(db, TENANT, status=None)


def shape(invoice: object) -> tuple[object, ...]:
    lines = [(line.name, line.qty, line.unit_cost.amount) for line in invoice.lines]  # type: ignore[attr-defined]
    return (invoice.raw["create_date"], invoice.amount.amount, lines)  # type: ignore[attr-defined]


async def test_a_draft_follows_its_deal(world: FlowWorld) -> None:
    invoices = flow(world)
    made = await invoiced(world, invoices)
    await change_deal(world, made)
    await world.enqueue("invoices", key(made.opportunity_id))
    await world.work([invoices])

    [invoice] = await invoices_of(world, made.client_id)
    assert shape(invoice) == (
        "2026-12-15",
        Decimal("550.00"),
        [("Acme expansion Anvil", Decimal(5), Decimal("100.00")),
         ("Acme expansion Hammer", Decimal(2), Decimal("25.00"))],
    )  # fmt: skip
    assert invoice.v3_status == "draft"
    assert await conflicts(world) == []
    assert set((await world.statuses()).values()) == {"done"}

    # Unchanged since: the next trigger writes nothing.
    path = f"/accounting/account/SBX7QK/invoices/invoices/{invoice.id}"
    puts = len([r for r in await world.fb_requests(path) if r["method"] == "PUT"])
    await world.enqueue("invoices", key(made.opportunity_id))
    await world.work([invoices])
    assert len([r for r in await world.fb_requests(path) if r["method"] == "PUT"]) == puts


async def test_a_sent_invoice_is_flagged_then_settled_from_salesforce(world: FlowWorld) -> None:
    invoices = flow(world, invoice_send=True)
    made = await invoiced(world, invoices)
    [before] = await invoices_of(world, made.client_id)
    assert before.v3_status == "sent"
    await change_deal(world, made)
    await world.enqueue("invoices", key(made.opportunity_id), key(made.opportunity_id))
    await world.work([invoices])

    [flagged] = await conflicts(world)
    assert (flagged.flow, flagged.parked.field, flagged.status) == (
        "invoices", "invoice", ConflictStatus.OPEN,
    )  # fmt: skip
    assert flagged.parked.salesforce_value["create_date"] == "2026-12-15"
    assert flagged.parked.freshbooks_value["create_date"] == "2026-11-30"
    [unchanged] = await invoices_of(world, made.client_id)
    assert shape(unchanged) == shape(before)
    assert set((await world.statuses()).values()) == {"done"}  # a review, not a dead letter

    queue = world.runtime.queue()
    await settle_conflict(queue, TENANT, flagged.id, take=Resolution.SALESFORCE, by="finance")
    await world.work([invoices])
    [updated] = await invoices_of(world, made.client_id)
    assert shape(updated)[:2] == ("2026-12-15", Decimal("550.00"))
    assert updated.id == before.id
    await world.enqueue("invoices", key(made.opportunity_id))
    await world.work([invoices])
    assert [c.status for c in await conflicts(world)] == [ConflictStatus.RESOLVED]


async def test_kept_invoice_is_not_flagged_again(world: FlowWorld) -> None:
    invoices = flow(world, invoice_draft_changes="review")
    made = await invoiced(world, invoices)
    [before] = await invoices_of(world, made.client_id)
    await change_deal(world, made)
    await world.enqueue("invoices", key(made.opportunity_id))
    await world.work([invoices])
    [flagged] = await conflicts(world)
    assert flagged.parked.field == "invoice"

    queue = world.runtime.queue()
    await settle_conflict(queue, TENANT, flagged.id, take=Resolution.FRESHBOOKS, by="finance")
    await world.work([invoices])
    await world.enqueue("invoices", key(made.opportunity_id))
    await world.work([invoices])

    [after] = await invoices_of(world, made.client_id)
    assert shape(after) == shape(before)
    assert [c.status for c in await conflicts(world)] == [ConflictStatus.RESOLVED]


async def test_a_deal_moved_out_of_won_is_flagged_and_its_invoice_kept(world: FlowWorld) -> None:
    invoices = flow(world)
    made = await invoiced(world, invoices)
    await set_stage(world, made.opportunity_id, "Closed Lost")
    for _ in range(2):
        await world.enqueue("invoices", key(made.opportunity_id))
        await world.work([invoices])

    [flagged] = await conflicts(world)
    assert (flagged.parked.field, flagged.parked.salesforce_value) == ("StageName", "Closed Lost")
    assert flagged.parked.freshbooks_value["status"] == "draft"
    [invoice] = await invoices_of(world, made.client_id)
    assert invoice.raw["vis_state"] == 0
    assert set((await world.statuses()).values()) == {"done"}


async def test_a_deleted_invoiced_deal_is_flagged(world: FlowWorld) -> None:
    invoices = flow(world)
    made = await invoiced(world, invoices)
    deleted = await world.sf_admin.post(
        "/_sandbox/salesforce/ui/delete", json={"id": made.opportunity_id}
    )
    assert deleted.status_code == 200, deleted.text
    await world.enqueue("invoices", key(made.opportunity_id))
    await world.work([invoices])

    [flagged] = await conflicts(world)
    [invoice] = await invoices_of(world, made.client_id)
    assert (flagged.parked.field, flagged.parked.freshbooks_value) == (
        "deleted", {"id": str(invoice.id)},
    )  # fmt: skip
    assert set((await world.statuses()).values()) == {"done"}


async def test_a_deleted_invoiced_deal_is_ignored_by_policy(world: FlowWorld) -> None:
    invoices = flow(world, invoice_deleted_deal="ignore")
    made = await invoiced(world, invoices)
    deleted = await world.sf_admin.post(
        "/_sandbox/salesforce/ui/delete", json={"id": made.opportunity_id}
    )
    assert deleted.status_code == 200, deleted.text
    await world.enqueue("invoices", key(made.opportunity_id))
    await world.work([invoices])

    assert await conflicts(world) == []
    assert len(await invoices_of(world, made.client_id)) == 1
    last = max(job.id for job in await world.jobs())
    attempts = await world.runtime.queue().attempts(last)
    assert attempts[-1].outcome == "skipped"


async def test_a_settled_review_of_a_forgotten_link_is_skipped(world: FlowWorld) -> None:
    await world.enqueue("invoices", "link/999", "link/x")
    await world.work([flow(world)])

    statuses = await world.statuses()
    assert statuses == {"link/999": "done", "link/x": "dead"}


async def test_a_line_items_description_edit_reaches_the_draft_through_its_deal(
    world: FlowWorld,
) -> None:
    invoices = flow(world)
    made = await invoiced(world, invoices)
    where = f"OpportunityId = {literal(made.opportunity_id)}"
    rows = await world.salesforce.query(
        f"SELECT Id FROM OpportunityLineItem WHERE {where} ORDER BY SortOrder",  # noqa: S608 - SOQL, literal()
        priority=P,
    )
    first = str(rows[0]["Id"])
    [edited] = await world.salesforce.update(
        "OpportunityLineItem", [{"Id": first, "Description": "Forged, not cast"}], priority=P
    )
    assert edited.success
    await world.enqueue("invoices", f"salesforce/OpportunityLineItem/{first}")
    await world.work([invoices])

    [invoice] = await invoices_of(world, made.client_id)
    assert [line.description for line in invoice.lines] == ["Forged, not cast", ""]
    assert sorted((await world.statuses()).items()) == [
        (key(made.opportunity_id), "done"),
        (f"salesforce/OpportunityLineItem/{first}", "done"),
    ]


async def test_a_deleted_line_items_job_is_skipped(world: FlowWorld) -> None:
    invoices = flow(world)
    made = await invoiced(world, invoices)
    await world.enqueue("invoices", "salesforce/OpportunityLineItem/00k8d0000000999AAA")
    await world.work([invoices])
    [job] = [j for j in await world.jobs() if j.key.endswith("00k8d0000000999AAA")]
    attempts = await world.runtime.queue().attempts(job.id)
    assert [a.outcome for a in attempts] == ["skipped"]
    assert len(await invoices_of(world, made.client_id)) == 1
