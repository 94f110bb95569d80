"""The clients flow end to end: a client made on one side appears, linked, on the other."""

from __future__ import annotations

from freshforce.store.links import find_links
from freshforce.store.scope import Scope

from .conftest import World

SCOPE = Scope("default", "clients")


async def test_a_freshbooks_client_becomes_an_account_and_contact(world: World) -> None:
    fb_id = await world.fb_create(
        organization="Acme Ltd", fname="Ann", lname="Lee", email="Ann@Acme.example",
        p_city="Toronto", p_province="ON", p_country="Canada",
    )  # fmt: skip
    await world.sync(f"freshbooks/client/{fb_id}")
    accounts = await world.soql(
        "SELECT Id, Name, BillingCity, BillingState, FreshBooks_Client_Id__c FROM Account "  # noqa: S608 - SOQL, values quoted
        f"WHERE FreshBooks_Client_Id__c = '{fb_id}'"
    )
    assert len(accounts) == 1
    account = accounts[0]
    assert (account["Name"], account["BillingCity"], account["BillingState"]) == (
        "Acme Ltd", "Toronto", "Ontario",
    )  # fmt: skip
    contacts = await world.soql(
        f"SELECT Id, FirstName, LastName, Email FROM Contact WHERE AccountId = '{account['Id']}'"  # noqa: S608 - SOQL, values quoted
    )
    assert [(c["FirstName"], c["LastName"], c["Email"]) for c in contacts] == [
        ("Ann", "Lee", "ann@acme.example")
    ]
    async with world.engine.connect() as db:
        [link] = await find_links(db, SCOPE, freshbooks_ids=[str(fb_id)])
    assert link.salesforce_id == account["Id"]
    assert link.salesforce_secondary_id == contacts[0]["Id"]


async def test_an_account_becomes_a_freshbooks_client_with_its_id_written_back(
    world: World,
) -> None:
    account_id = await world.sf_create("Account", Name="Globex", BillingCity="Springfield")
    await world.sf_create(
        "Contact", AccountId=account_id, FirstName="Hank", LastName="Scorpio",
        Email="hank@globex.example",
    )  # fmt: skip
    await world.sync(f"salesforce/Account/{account_id}")
    clients = [c for c in await world.fb_clients() if c["organization"] == "Globex"]
    assert len(clients) == 1
    client = clients[0]
    assert (client["fname"], client["lname"], client["email"], client["p_city"]) == (
        "Hank", "Scorpio", "hank@globex.example", "Springfield",
    )  # fmt: skip
    [account] = await world.soql(
        f"SELECT FreshBooks_Client_Id__c FROM Account WHERE Id = '{account_id}'"  # noqa: S608 - SOQL, values quoted
    )
    assert account["FreshBooks_Client_Id__c"] == str(client["id"])


async def test_edits_flow_both_ways_and_a_second_run_writes_nothing(world: World) -> None:
    fb_id = await world.fb_create(organization="Initech", fname="Bill", lname="Lumbergh")
    await world.sync(f"freshbooks/client/{fb_id}")
    [account] = await world.soql(
        f"SELECT Id FROM Account WHERE FreshBooks_Client_Id__c = '{fb_id}'"  # noqa: S608 - SOQL, values quoted
    )
    await world.fb_update(fb_id, bus_phone="555-0100")
    await world.sync(f"freshbooks/client/{fb_id}")
    [found] = await world.soql(f"SELECT Phone FROM Account WHERE Id = '{account['Id']}'")  # noqa: S608 - SOQL, values quoted
    assert found["Phone"] == "555-0100"
    await world.sf_update(account["Id"], Name="Initech Corp")
    await world.sync(f"salesforce/Account/{account['Id']}")
    assert (await world.fb_get(fb_id))["organization"] == "Initech Corp"
    await world.clear_requests()
    await world.sync(f"freshbooks/client/{fb_id}", f"salesforce/Account/{account['Id']}")
    seen = [r for system in ("freshbooks", "salesforce") for r in await world.requests(system)]
    assert {r["method"] for r in seen} >= {"GET"}  # both records were read again...
    assert [r for r in seen if r["method"] in {"POST", "PUT", "PATCH", "DELETE"}] == []
