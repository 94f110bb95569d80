"""Governor priority: with the Salesforce budget low, payments are written, a backfill waits."""

from __future__ import annotations

import pytest

from freshforce.connectors.salesforce import GovernorConfig, Priority
from freshforce.errors import TransientError
from freshforce.flows.clients_bulk import plan_initial
from freshforce.flows.payments import payments_flow

from .conftest import TENANT, FlowWorld
from .test_payments import invoiced, paid

MAX_CALLS = 10_000


async def test_low_budget_writes_payments_while_a_backfill_waits(world: FlowWorld) -> None:
    opportunity_id, invoice_id = await invoiced(world, amount=300.0)
    payment = await world.fb_pay(invoice_id, "100.00", date="2026-12-01")

    # Floors at 10,000 calls: payments 100, invoices 600, clients 1,100, backfill 1,600.
    world.runtime.governor.config = GovernorConfig(reserve=100, step_fraction=0.05)
    limits = {"max_calls": MAX_CALLS, "used": MAX_CALLS - 800}
    response = await world.sf_admin.put("/_sandbox/salesforce/limits", json=limits)
    assert response.status_code == 200, response.text
    await world.salesforce.query("SELECT Id FROM Opportunity LIMIT 1", priority=Priority.PAYMENTS)
    org = world.salesforce.org.org_id
    assert world.runtime.governor.snapshot(org).remaining < 800

    pair = await world.runtime.pair(TENANT)
    with pytest.raises(TransientError, match="backfill traffic waits below 1600"):
        await plan_initial(world.maps()["clients"], pair, world.engine, tenant=TENANT)

    await world.enqueue("payments", f"freshbooks/payment/{payment['id']}")
    await world.work([payments_flow(world.runtime, world.maps())])
    figures = world.runtime.governor.snapshot(org)

    world.runtime.governor.config = GovernorConfig(reserve=0, step_fraction=0.0)  # to look
    assert paid(await world.opportunity(opportunity_id)) == (
        "Partially Paid", 100.0, 200.0, "2026-12-01",
    )  # fmt: skip
    assert set((await world.statuses()).values()) == {"done"}
    assert figures.deferred["backfill"] >= 1
    assert figures.deferred["payments"] == 0
    assert figures.admitted["payments"] >= 2  # the read of the Opportunity and the write
