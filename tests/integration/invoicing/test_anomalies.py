"""The anomaly guard in the invoices flow: odd invoices wait for review, released ones go out."""

from __future__ import annotations

from freshforce.assist.review import settle
from freshforce.flows.invoices import invoices_flow
from freshforce.store.anomalies import list_anomalies

from .conftest import TENANT, FlowWorld
from .deals import _create, deal, invoices_of, key, set_stage

NORMAL = (1000.0, 1100.0, 900.0, 1050.0, 950.0)


async def test_a_x100_amount_is_held_then_released_and_written(world: FlowWorld) -> None:
    flow = invoices_flow(world.runtime, world.maps())
    for amount in NORMAL:
        made = await deal(world, amount=amount)
        await world.enqueue("invoices", key(made.opportunity_id))
    await world.work([flow])
    odd = await deal(world, amount=105000.0)
    await world.enqueue("invoices", key(odd.opportunity_id))
    await world.work([flow])

    assert await invoices_of(world, odd.client_id) == []
    async with world.engine.connect() as db:
        [held] = await list_anomalies(db, TENANT, status="open")
    assert held.record_key == key(odd.opportunity_id)
    assert held.reasons == (
        "amount 105,000.00 USD looks like 1,050.00 with the decimal point moved (x100)",
    )
    await world.work([flow])  # a second look changes nothing while it waits
    assert await invoices_of(world, odd.client_id) == []

    released = await settle(world.engine, world.runtime.queue(), TENANT, held.id, accept=True)
    assert released is not None
    assert released.status == "accepted"
    await world.work([flow])
    [invoice] = await invoices_of(world, odd.client_id)
    assert invoice.amount.amount == 105000
    assert await settle(world.engine, world.runtime.queue(), TENANT, held.id, accept=True) is None


async def test_a_currency_swap_for_a_client_is_held(world: FlowWorld) -> None:
    first = await deal(world, amount=500.0)
    await world.enqueue("invoices", key(first.opportunity_id))
    await world.work([invoices_flow(world.runtime, world.maps())])
    assert len(await invoices_of(world, first.client_id)) == 1

    second = await _create(
        world,
        "Opportunity",
        {"Name": "Acme renewal", "AccountId": first.account_id, "StageName": "Prospecting",
         "CloseDate": "2026-12-30", "Amount": 500.0},
    )  # fmt: skip
    await set_stage(world, second, "Closed Won")
    await world.enqueue("invoices", key(second))
    await world.work([invoices_flow(world.runtime, world.maps(home_currency="CAD"))])

    assert len(await invoices_of(world, first.client_id)) == 1
    async with world.engine.connect() as db:
        [held] = await list_anomalies(db, TENANT, status="open")
    assert held.reasons == ("currency CAD differs from this client's USD",)
    rejected = await settle(world.engine, world.runtime.queue(), TENANT, held.id, accept=False)
    assert rejected is not None
    assert rejected.status == "rejected"
    await world.enqueue("invoices", key(second))
    await world.work([invoices_flow(world.runtime, world.maps(home_currency="CAD"))])
    assert len(await invoices_of(world, first.client_id)) == 1  # rejected: still not written
