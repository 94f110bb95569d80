"""A store restored from an older backup: what it forgot is found again, nothing is made twice.

The backup is every table's rows, taken while the service runs; restoring puts exactly those
rows back (what a restored database dump holds). Between the two, a client and an Account were
linked, a phone edit was synced and a won deal was invoiced: the restored store knows none of
it. The intake replays from the restored cursors, so those records come back as jobs; the
flows must match before they create (links), adopt the invoice the deal carries, and leave
reconcile nothing to repair.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.embedded import FB_ACCOUNT
from freshforce.flows.clients_bulk import reconcile
from freshforce.store.schema import links, metadata

from .conftest import World

Backup = dict[str, list[dict[str, Any]]]


async def take_backup(engine: AsyncEngine) -> Backup:
    async with engine.connect() as db:
        return {
            table.name: [dict(row) for row in (await db.execute(table.select())).mappings()]
            for table in metadata.sorted_tables
        }


async def restore(engine: AsyncEngine, backup: Backup) -> None:
    async with engine.begin() as db:
        for table in reversed(metadata.sorted_tables):
            await db.execute(table.delete())
        for table in metadata.sorted_tables:
            if backup[table.name]:
                await db.execute(table.insert(), backup[table.name])


async def won_deal(world: World, account_id: str, name: str, amount: float) -> str:
    return await world.sf_create(
        "Opportunity", Name=name, AccountId=account_id, StageName="Closed Won",
        CloseDate="2026-11-30", Amount=amount,
    )  # fmt: skip


async def account_of(world: World, client_id: int) -> dict[str, Any]:
    [account] = await world.soql(
        f"SELECT Id, Phone FROM Account WHERE FreshBooks_Client_Id__c = '{client_id}'"  # noqa: S608 - SOQL
    )
    return account


async def invoice_ids(world: World, opportunity_id: str) -> list[str]:
    rows = await world.soql(
        f"SELECT FreshBooks_Invoice_Id__c FROM Opportunity WHERE Id = '{opportunity_id}'"  # noqa: S608 - SOQL
    )
    return [str(r["FreshBooks_Invoice_Id__c"]) for r in rows if r["FreshBooks_Invoice_Id__c"]]


async def test_a_store_restored_from_an_older_backup_converges_with_nothing_made_twice(
    world: World,
) -> None:
    anvil = await world.fb_create(
        organization="Anvil Works", fname="Ann", lname="Lee", email="ann@anvil.example",
        bus_phone="555-0100",
    )  # fmt: skip
    await world.sync(f"freshbooks/client/{anvil}")
    first = await won_deal(world, (await account_of(world, anvil))["Id"], "First order", 100.0)
    await world.sync(f"salesforce/Opportunity/{first}", flow="invoices")
    backup = await take_backup(world.engine)
    linked_before = len(backup["links"])

    # After the backup: a new client linked, a phone edit synced, an Account made in
    # Salesforce given its client, and a second won deal invoiced.
    bolt = await world.fb_create(organization="Bolt Co", email="bo@bolt.example")
    await world.sync(f"freshbooks/client/{bolt}")
    await world.fb_update(anvil, bus_phone="555-0199")
    await world.sync(f"freshbooks/client/{anvil}")
    cog = await world.sf_create("Account", Name="Cog Ltd")
    await world.sync(f"salesforce/Account/{cog}")
    second = await won_deal(world, (await account_of(world, bolt))["Id"], "Second order", 250.0)
    await world.sync(f"salesforce/Opportunity/{second}", flow="invoices")
    [second_invoice] = await invoice_ids(world, second)
    clients_before = sorted(c["organization"] for c in await world.fb_clients())

    await restore(world.engine, backup)
    async with world.engine.connect() as db:
        assert await db.scalar(sa.select(sa.func.count()).select_from(links)) == linked_before

    # The intake replays from the restored cursors: the same records come back as jobs.
    await world.sync(
        f"freshbooks/client/{bolt}", f"freshbooks/client/{anvil}", f"salesforce/Account/{cog}"
    )
    await world.sync(
        f"salesforce/Opportunity/{first}", f"salesforce/Opportunity/{second}", flow="invoices"
    )

    assert sorted(c["organization"] for c in await world.fb_clients()) == clients_before
    accounts = await world.soql("SELECT Name FROM Account WHERE Name IN ('Anvil Works', "
                                "'Bolt Co', 'Cog Ltd')")  # fmt: skip
    assert sorted(a["Name"] for a in accounts) == ["Anvil Works", "Bolt Co", "Cog Ltd"]
    assert (await account_of(world, anvil))["Phone"] == "555-0199"
    assert (await world.fb_get(anvil))["bus_phone"] == "555-0199"
    assert await invoice_ids(world, second) == [second_invoice]
    fb_invoices = await world.fb_user.get(
        f"/accounting/account/{FB_ACCOUNT}/invoices/invoices", params={"per_page": 100}
    )
    made = [
        i for i in fb_invoices.json()["response"]["result"]["invoices"]
        if i["customerid"] in {anvil, bolt}
    ]  # fmt: skip
    assert len(made) == 2  # one per won deal, none made twice
    pair = await world.runtime.pair(world.tenant)
    drift = await reconcile(world.maps["clients"], pair, world.engine, tenant=world.tenant)
    assert dict(drift.counts) == {}, drift.samples
