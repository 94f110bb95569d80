"""A field Salesforce refuses is parked for review; the rest of the record syncs.

The sandbox refuses values as Salesforce does: an e-mail it cannot parse (INVALID_EMAIL_ADDRESS
naming Email), a validation rule that names its field (FIELD_CUSTOM_VALIDATION_EXCEPTION with
``fields``), one that names none. Only the first two are tied to a field.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from freshforce.engine.settle import settle_conflict
from freshforce.store.conflicts import (
    Conflict,
    ConflictKind,
    ConflictStatus,
    Resolution,
    list_conflicts,
)
from freshforce.store.schema import dead_letters, links

from .conftest import World


async def _rule(world: World, **rule: Any) -> None:
    response = await world.sf_admin.post("/_sandbox/salesforce/validation-rules", json=rule)
    assert response.status_code == 201, response.text


async def _contact_of(world: World, fb_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    where = f"WHERE FreshBooks_Client_Id__c = '{fb_id}'"
    [account] = await world.soql(f"SELECT Id, Name, Phone, BillingCity FROM Account {where}")  # noqa: S608
    where = f"WHERE AccountId = '{account['Id']}'"
    [contact] = await world.soql(
        f"SELECT Id, FirstName, LastName, Email, MobilePhone FROM Contact {where}"  # noqa: S608
    )
    return account, contact


async def _conflicts(world: World, *, every: bool = False) -> list[Conflict]:
    async with world.engine.connect() as db:
        return await list_conflicts(db, "default", status=None if every else ConflictStatus.OPEN)


async def test_an_invalid_email_is_parked_and_the_rest_of_the_client_syncs(world: World) -> None:
    fb_id = await world.fb_create(
        organization="Initech", fname="Peter", lname="Gibbons", email="peter at initech",
        bus_phone="555-0100", mob_phone="555-0101", p_city="Austin",
    )  # fmt: skip
    await world.sync(f"freshbooks/client/{fb_id}")

    account, contact = await _contact_of(world, fb_id)
    assert (account["Name"], account["Phone"], account["BillingCity"]) == (
        "Initech", "555-0100", "Austin",
    )  # fmt: skip
    assert (contact["FirstName"], contact["LastName"], contact["MobilePhone"]) == (
        "Peter", "Gibbons", "555-0101",
    )  # fmt: skip
    assert contact["Email"] is None
    async with world.engine.connect() as db:
        assert (await db.execute(sa.select(dead_letters))).all() == []
        [link] = (await db.execute(sa.select(links))).all()
    [item] = await _conflicts(world)
    assert item.kind is ConflictKind.REFUSED
    assert (item.parked.link_id, item.parked.field) == (link.id, "Contact.Email")
    assert item.parked.freshbooks_value == "peter at initech"
    assert item.refused_by == "salesforce"
    assert item.error_code == "INVALID_EMAIL_ADDRESS"
    assert "invalid email address" in (item.error_message or "")
    assert (await world.fb_get(fb_id))["email"] == "peter at initech"  # nothing overwritten

    # Synced again unchanged: the refused value waits, nothing is written, the item stays one.
    await world.clear_requests()
    await world.sync(f"freshbooks/client/{fb_id}")
    writes = [r for r in await world.requests("salesforce") if r["method"] in {"POST", "PATCH"}]
    assert writes == []
    assert [c.id for c in await _conflicts(world)] == [item.id]

    # Fixed at the source: the e-mail syncs and the item closes.
    await world.fb_update(fb_id, email="Peter@Initech.example")
    await world.sync(f"freshbooks/client/{fb_id}")
    _, contact = await _contact_of(world, fb_id)
    assert contact["Email"] == "peter@initech.example"
    assert await _conflicts(world) == []
    [closed] = await _conflicts(world, every=True)
    assert (closed.id, closed.resolution) == (item.id, Resolution.FIXED)
    assert closed.resolved_value == "peter@initech.example"


async def test_a_validation_rule_naming_a_field_parks_that_field(world: World) -> None:
    await _rule(
        world, object="Contact", name="no_test_phones",
        condition="MobilePhone = '555-0000'", message="Use a real mobile number",
        field="MobilePhone",
    )  # fmt: skip
    fb_id = await world.fb_create(organization="Hooli", fname="Gavin", lname="Belson",
                                  email="gavin@hooli.example", mob_phone="555-0000")  # fmt: skip
    await world.sync(f"freshbooks/client/{fb_id}")

    _, contact = await _contact_of(world, fb_id)
    assert (contact["LastName"], contact["Email"], contact["MobilePhone"]) == (
        "Belson", "gavin@hooli.example", None,
    )  # fmt: skip
    [item] = await _conflicts(world)
    assert (item.parked.field, item.error_code) == (
        "Contact.MobilePhone", "FIELD_CUSTOM_VALIDATION_EXCEPTION",
    )  # fmt: skip
    assert item.error_message == "Use a real mobile number"

    # An operator types a value: it syncs to both sides and the item is settled.
    await settle_conflict(
        world.queue(), "default", item.id, take=Resolution.VALUE, value="555-0199", by="ops"
    )
    await world.sync()
    _, contact = await _contact_of(world, fb_id)
    assert contact["MobilePhone"] == "555-0199"
    assert (await world.fb_get(fb_id))["mob_phone"] == "555-0199"
    assert await _conflicts(world) == []


async def test_a_linked_client_edit_refused_on_one_field_syncs_the_rest(world: World) -> None:
    fb_id = await world.fb_create(organization="Globex", fname="Hank", lname="Scorpio",
                                  email="hank@globex.example")  # fmt: skip
    await world.sync(f"freshbooks/client/{fb_id}")
    await world.fb_update(fb_id, email="hank@@globex", bus_phone="555-0142")
    await world.sync(f"freshbooks/client/{fb_id}")

    account, contact = await _contact_of(world, fb_id)
    assert account["Phone"] == "555-0142"
    assert contact["Email"] == "hank@globex.example"  # Salesforce keeps its valid value
    [item] = await _conflicts(world)
    assert (item.parked.field, item.parked.freshbooks_value, item.parked.salesforce_value) == (
        "Contact.Email", "hank@@globex", "hank@globex.example",
    )  # fmt: skip
    assert (await world.fb_get(fb_id))["email"] == "hank@@globex"  # not reverted

    await world.fb_update(fb_id, email="hank@globex.example.com")
    await world.sync(f"freshbooks/client/{fb_id}")
    _, contact = await _contact_of(world, fb_id)
    assert contact["Email"] == "hank@globex.example.com"
    assert await _conflicts(world) == []


async def test_a_refusal_naming_no_field_still_dead_letters(world: World) -> None:
    await _rule(
        world, object="Contact", name="no_gibbons",
        condition="LastName = 'Gibbons'", message="Gibbons may not be a contact",
    )  # fmt: skip
    fb_id = await world.fb_create(organization="Initech", fname="Peter", lname="Gibbons")
    await world.sync(f"freshbooks/client/{fb_id}")

    async with world.engine.connect() as db:
        [dead] = (await db.execute(sa.select(dead_letters))).all()
    assert "FIELD_CUSTOM_VALIDATION_EXCEPTION" in dead.error_message
    assert "Gibbons may not be a contact" in dead.error_message
    assert await _conflicts(world) == []


async def test_a_value_freshbooks_refuses_is_parked_and_the_rest_syncs(world: World) -> None:
    fb_id = await world.fb_create(organization="Vandelay", lname="Costanza", bus_phone="555-0001")
    await world.sync(f"freshbooks/client/{fb_id}")
    account, _ = await _contact_of(world, fb_id)
    # FreshBooks refuses the phone once, as its accounting API names a field (errno 1004).
    await world.fault(
        "freshbooks", kind="invalid_value", method="PUT", path=f"*/users/clients/{fb_id}",
        field="bus_phone", times=1,
    )  # fmt: skip
    await world.sf_update(account["Id"], Phone="555-0002", Name="Vandelay Industries")
    await world.sync(f"salesforce/Account/{account['Id']}")

    client = await world.fb_get(fb_id)
    assert (client["organization"], client["bus_phone"]) == ("Vandelay Industries", "555-0001")
    [item] = await _conflicts(world)
    assert (item.parked.field, item.refused_by, item.error_code) == (
        "Account.Phone", "freshbooks", "1004",
    )  # fmt: skip
    assert item.error_message == "Invalid value for bus_phone."
    assert (item.parked.freshbooks_value, item.parked.salesforce_value) == ("555-0001", "555-0002")
    account, _ = await _contact_of(world, fb_id)
    assert account["Phone"] == "555-0002"  # Salesforce's edit is not undone

    await world.clear_requests()
    await world.sync(f"salesforce/Account/{account['Id']}")  # unchanged: it waits, no write
    writes = [r for r in await world.requests("freshbooks") if r["method"] in {"POST", "PUT"}]
    assert writes == []

    await world.sf_update(account["Id"], Phone="555-0003")
    await world.sync(f"salesforce/Account/{account['Id']}")
    assert (await world.fb_get(fb_id))["bus_phone"] == "555-0003"
    assert await _conflicts(world) == []
    [closed] = await _conflicts(world, every=True)
    assert (closed.resolution, closed.resolved_value) == (Resolution.FIXED, "555-0003")


async def test_a_first_name_too_long_is_parked_with_string_too_long(world: World) -> None:
    fb_id = await world.fb_create(organization="Gringotts", fname="Griphook", lname="Goblin")
    await world.sync(f"freshbooks/client/{fb_id}")
    long_name = "Griphook " * 6  # 54 characters; Contact.FirstName holds 40
    await world.fb_update(fb_id, fname=long_name, lname="Goblin-Smith")
    await world.sync(f"freshbooks/client/{fb_id}")

    _, contact = await _contact_of(world, fb_id)
    assert (contact["FirstName"], contact["LastName"]) == ("Griphook", "Goblin-Smith")
    [item] = await _conflicts(world)
    assert (item.parked.field, item.error_code) == ("Contact.FirstName", "STRING_TOO_LONG")
    assert item.parked.freshbooks_value == long_name.strip()
    assert "max length=40" in (item.error_message or "")
