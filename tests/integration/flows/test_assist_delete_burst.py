"""A burst of Account deletes trips the clients flow's breaker: the deletes past the limit wait."""

from __future__ import annotations

from freshforce.assist.review import settle
from freshforce.store.alerts import list_alerts
from freshforce.store.anomalies import list_anomalies

from .conftest import World

LIMIT = 20  # the default: max(20, 2% of the linked records)
RECORDS = 24


async def test_a_delete_burst_is_held_and_a_released_one_is_applied(world: World) -> None:
    ids = [await world.fb_create(organization=f"Burst {n}", lname="Person") for n in range(RECORDS)]
    await world.sync(*(f"freshbooks/client/{i}" for i in ids))
    accounts = await world.soql(
        "SELECT Id, FreshBooks_Client_Id__c FROM Account WHERE Name LIKE 'Burst %'"
    )
    assert len(accounts) == len(ids)
    for account in accounts:
        await world.sf_ui("delete", id=account["Id"])
    await world.sync(*(f"salesforce/Account/{a['Id']}" for a in accounts))

    archived = [(await world.fb_get(i))["vis_state"] for i in ids].count(2)
    # Two batches run at once, so one delete may slip past the count the other is making.
    assert LIMIT <= archived <= LIMIT + 1
    async with world.engine.connect() as db:
        held = await list_anomalies(db, "default", status="open")
    assert len(held) == RECORDS - archived
    burst = f"a burst of deletes: {archived} in the last 15 minutes on clients (limit {LIMIT})"
    assert held[0].reasons == (f"{burst}; the flow's deletes are paused until reviewed",)
    await settle(world.engine, world.queue(), "default", held[0].id, accept=True)
    await world.sync()
    after = [(await world.fb_get(i))["vis_state"] for i in ids].count(2)
    assert after == archived + 1

    async with world.engine.connect() as db:
        [alert] = await list_alerts(db)  # one alert for the incident, open while deletes wait
    assert (alert.kind, alert.severity, alert.resolved_at) == (
        "clients_delete_breaker",
        "error",
        None,
    )
    assert alert.message.startswith("a burst of deletes: ")
    for rest in held[1:]:
        await settle(world.engine, world.queue(), "default", rest.id, accept=False)
    async with world.engine.connect() as db:
        kinds = {(a.kind, a.resolved_at is not None) for a in await list_alerts(db)}
    assert kinds == {("clients_delete_breaker", True), ("clients_delete_breaker_resolved", True)}
