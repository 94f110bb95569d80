"""The first sync of two populated systems (its dry run predicts the apply) and reconcile."""

from __future__ import annotations

import sqlalchemy as sa

from freshforce.flows.clients_bulk import apply_initial, plan_initial, reconcile
from freshforce.store.schema import links

from .conftest import World


async def _populate(world: World) -> None:
    await world.fb_create(organization="Alpha Ltd", lname="Able", email="able@alpha.example")
    await world.fb_create(organization="Bravo Inc", lname="Baker")
    await world.fb_create(organization="Charlie", lname="Cole")
    alpha = await world.sf_create("Account", Name="Alpha Holdings")
    await world.sf_create("Contact", AccountId=alpha, LastName="Able", Email="able@alpha.example")
    await world.sf_create("Account", Name="BRAVO")
    delta = await world.sf_create("Account", Name="Delta")
    await world.sf_create("Contact", AccountId=delta, FirstName="Dee", LastName="Dunn")
    await world.sf_create("Account", Name="Echo One")
    await world.fb_create(
        organization="Echo", lname="Ebb"
    )  # matches no Account: "echo" ≠ "echo one"


async def test_a_first_sync_does_what_its_dry_run_said(world: World) -> None:
    await _populate(world)
    pair = await world.runtime.pair("default")
    flow = world.maps["clients"]
    plan = await plan_initial(flow, pair, world.engine, tenant="default")
    assert dict(plan.report.counts) == {
        "link": 2,  # Alpha by e-mail, Bravo by name
        "create in Salesforce": 2,  # Charlie, Echo
        "create in FreshBooks": 2,  # Delta, Echo One
        "update in Salesforce": 2,
        "update in FreshBooks": 2,
    }
    accounts_before = len(await world.soql("SELECT Id FROM Account"))
    clients_before = len(await world.fb_clients())
    done = await apply_initial(plan, world.engine)
    assert done.counts == plan.report.counts
    assert done.errors == []
    assert len(await world.soql("SELECT Id FROM Account")) == accounts_before + 2
    assert len(await world.fb_clients()) == clients_before + 2
    async with world.engine.connect() as db:
        assert len((await db.execute(sa.select(links))).all()) == 6
    again = await plan_initial(flow, pair, world.engine, tenant="default")
    assert dict(again.report.counts) == {}  # everything is linked: a re-run has nothing to do
    drift = await reconcile(flow, pair, world.engine, tenant="default")
    assert dict(drift.counts) == {}


async def test_reconcile_finds_a_silent_edit_and_repairs_it(world: World) -> None:
    fb_id = await world.fb_create(organization="Quiet Co", lname="Hush")
    await world.sync(f"freshbooks/client/{fb_id}")
    body = {"resource": "clients", "id": fb_id, "fields": {"bus_phone": "555-0666"}}
    response = await world.fb_admin.post("/_sandbox/freshbooks/silent", json=body)
    assert response.status_code == 200, response.text
    pair = await world.runtime.pair("default")
    flow = world.maps["clients"]
    drift = await reconcile(flow, pair, world.engine, tenant="default")
    assert dict(drift.counts) == {"fields differ": 1}
    assert "Account.Phone" in drift.samples["fields differ"][0]
    await reconcile(flow, pair, world.engine, tenant="default", queue=world.queue())
    await world.sync()
    [account] = await world.soql(
        f"SELECT Phone FROM Account WHERE FreshBooks_Client_Id__c = '{fb_id}'"  # noqa: S608
    )
    assert account["Phone"] == "555-0666"
    assert dict((await reconcile(flow, pair, world.engine, tenant="default")).counts) == {}


async def test_the_service_schedules_a_repairing_reconcile(world: World) -> None:
    from freshforce.service import reconcile_tasks  # noqa: PLC0415

    fb_id = await world.fb_create(organization="Scheduled Ltd", lname="Cron")
    await world.sync(f"freshbooks/client/{fb_id}")
    body = {"resource": "clients", "id": fb_id, "fields": {"p_city": "Regina"}}
    assert (await world.fb_admin.post("/_sandbox/freshbooks/silent", json=body)).status_code == 200
    assert reconcile_tasks(world.runtime, world.maps, {"invoices"}) == []
    [task] = reconcile_tasks(world.runtime, world.maps, {"clients", "invoices"})
    assert task.seconds == world.runtime.settings.reconcile_interval_seconds
    await task.fn()
    await world.sync()
    [account] = await world.soql(
        f"SELECT BillingCity FROM Account WHERE FreshBooks_Client_Id__c = '{fb_id}'"  # noqa: S608
    )
    assert account["BillingCity"] == "Regina"
