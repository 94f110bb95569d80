"""A client with an e-mail but no person's name: its Account has no Contact, its e-mail stays."""

from __future__ import annotations

import pytest

from freshforce.flows.clients_bulk import apply_initial, plan_initial
from freshforce.store.conflicts import list_conflicts

from .conftest import World


@pytest.mark.parametrize("linked_by", ["first sync", "job"])
async def test_an_edit_after_linking_keeps_the_clients_email(world: World, linked_by: str) -> None:
    fb_id = await world.fb_create(organization="Nameless Co", email="ops@nameless.example")
    if linked_by == "first sync":
        pair = await world.runtime.pair(world.tenant)
        plan = await plan_initial(world.maps["clients"], pair, world.engine, tenant=world.tenant)
        await apply_initial(plan, world.engine)
    else:
        await world.sync(f"freshbooks/client/{fb_id}")
    await world.fb_update(fb_id, bus_phone="555-0142")
    await world.sync(f"freshbooks/client/{fb_id}")
    [account] = await world.soql(
        f"SELECT Id, Phone FROM Account WHERE FreshBooks_Client_Id__c = '{fb_id}'"  # noqa: S608 - SOQL, values quoted
    )
    assert account["Phone"] == "555-0142"
    assert (await world.fb_get(fb_id))["email"] == "ops@nameless.example"


async def test_a_last_name_added_later_makes_the_contact_with_the_email(world: World) -> None:
    fb_id = await world.fb_create(organization="Later Co", email="hi@later.example")
    await world.sync(f"freshbooks/client/{fb_id}")
    [account] = await world.soql(
        f"SELECT Id FROM Account WHERE FreshBooks_Client_Id__c = '{fb_id}'"  # noqa: S608 - SOQL, values quoted
    )
    assert await world.soql(f"SELECT Id FROM Contact WHERE AccountId = '{account['Id']}'") == []  # noqa: S608 - SOQL, values quoted
    await world.fb_update(fb_id, lname="Ng")
    await world.sync(f"freshbooks/client/{fb_id}")
    [contact] = await world.soql(
        f"SELECT LastName, Email FROM Contact WHERE AccountId = '{account['Id']}'"  # noqa: S608 - SOQL, values quoted
    )
    assert (contact["LastName"], contact["Email"]) == ("Ng", "hi@later.example")
    assert (await world.fb_get(fb_id))["email"] == "hi@later.example"


async def test_an_account_matched_without_a_contact_gets_one_from_the_clients_person(
    world: World,
) -> None:
    account = await world.sf_create("Account", Name="Wayne Enterprises")
    fb_id = await world.fb_create(
        organization="Wayne Enterprises", lname="Fox", email="lucius@wayne.example"
    )
    await world.sync(f"freshbooks/client/{fb_id}")
    [contact] = await world.soql(
        f"SELECT LastName, Email FROM Contact WHERE AccountId = '{account}'"  # noqa: S608 - SOQL, values quoted
    )
    assert (contact["LastName"], contact["Email"]) == ("Fox", "lucius@wayne.example")
    assert (await world.fb_get(fb_id))["email"] == "lucius@wayne.example"


async def test_a_client_matched_to_an_account_without_a_contact_gets_its_email_unreviewed(
    world: World,
) -> None:
    # What a worker killed after creating the Account, before linking, leaves behind: the
    # Account (found again by its external id), no Contact, no link, no snapshot.
    fb_id = await world.fb_create(organization="Crash Co", lname="Ng", email="ng@crash.example")
    account_id = await world.sf_create(
        "Account", Name="Crash Co", FreshBooks_Client_Id__c=str(fb_id)
    )
    await world.sync(f"freshbooks/client/{fb_id}")
    [contact] = await world.soql(
        f"SELECT LastName, Email FROM Contact WHERE AccountId = '{account_id}'"  # noqa: S608 - SOQL, values quoted
    )
    assert (contact["LastName"], contact["Email"]) == ("Ng", "ng@crash.example")
    async with world.engine.connect() as db:
        assert await list_conflicts(db, "default") == []  # nothing to review: one side had it
