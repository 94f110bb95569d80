"""Two-sided edits under each policy, a review conflict parked and settled, echoes recognised."""

from __future__ import annotations

import sqlalchemy as sa

from freshforce.engine.settle import settle_conflict
from freshforce.store.conflicts import ConflictStatus, Resolution, list_conflicts
from freshforce.store.schema import events, field_writes

from .conftest import World


async def _linked(world: World, **fields: object) -> tuple[int, str, str]:
    fb_id = await world.fb_create(**fields)
    await world.sync(f"freshbooks/client/{fb_id}")
    [account] = await world.soql(
        f"SELECT Id FROM Account WHERE FreshBooks_Client_Id__c = '{fb_id}'"  # noqa: S608
    )
    [contact] = await world.soql(
        f"SELECT Id FROM Contact WHERE AccountId = '{account['Id']}'"  # noqa: S608
    )
    return fb_id, account["Id"], contact["Id"]


async def test_newest_wins_takes_the_later_edit_on_each_side(world: World) -> None:
    fb_id, account, _ = await _linked(world, organization="Umbrella", fname="Al", lname="Wesker")
    await world.sf_update(account, Name="Umbrella Corp (SF)")
    await world.advance(5)
    await world.fb_update(fb_id, organization="Umbrella Corp (FB)")
    await world.sync(f"freshbooks/client/{fb_id}", f"salesforce/Account/{account}")
    [found] = await world.soql(f"SELECT Name FROM Account WHERE Id = '{account}'")  # noqa: S608
    assert found["Name"] == "Umbrella Corp (FB)"
    assert (await world.fb_get(fb_id))["organization"] == "Umbrella Corp (FB)"

    await world.advance(5)
    await world.fb_update(fb_id, organization="Umbrella Two (FB)")
    await world.advance(5)
    await world.sf_update(account, Name="Umbrella Two (SF)")
    await world.sync(f"freshbooks/client/{fb_id}")
    assert (await world.fb_get(fb_id))["organization"] == "Umbrella Two (SF)"


async def test_freshbooks_wins_keeps_the_note_from_freshbooks(world: World) -> None:
    fb_id, account, _ = await _linked(world, organization="Soylent", lname="Thorn", note="a")
    await world.fb_update(fb_id, note="from freshbooks")
    await world.advance(5)
    await world.sf_update(account, Description="from salesforce")
    await world.sync(f"salesforce/Account/{account}")
    [found] = await world.soql(
        f"SELECT Description FROM Account WHERE Id = '{account}'"  # noqa: S608
    )
    assert found["Description"] == "from freshbooks"


async def test_a_review_conflict_parks_one_field_and_settles_from_a_person(world: World) -> None:
    fb_id, account, contact = await _linked(
        world, organization="Hooli", fname="Gavin", lname="Belson", email="gavin@hooli.example"
    )
    await world.fb_update(fb_id, email="gavin@fb.example", bus_phone="555-0199")
    await world.sf_update(contact, Email="gavin@sf.example")
    await world.sync(f"freshbooks/client/{fb_id}")

    [account_row] = await world.soql(f"SELECT Phone FROM Account WHERE Id = '{account}'")  # noqa: S608
    assert account_row["Phone"] == "555-0199"  # the rest of the record synced
    async with world.engine.connect() as db:
        [conflict] = await list_conflicts(db, "default")
    assert conflict.parked.field == "Contact.Email"
    assert (conflict.parked.freshbooks_value, conflict.parked.salesforce_value) == (
        "gavin@fb.example",
        "gavin@sf.example",
    )
    assert (await world.fb_get(fb_id))["email"] == "gavin@fb.example"  # nothing guessed

    settled = await settle_conflict(
        world.queue(), "default", conflict.id, take=Resolution.SALESFORCE, by="ops@example"
    )
    assert settled.status is ConflictStatus.RESOLVED
    await world.sync()
    assert (await world.fb_get(fb_id))["email"] == "gavin@sf.example"
    [found] = await world.soql(f"SELECT Email FROM Contact WHERE Id = '{contact}'")  # noqa: S608
    assert found["Email"] == "gavin@sf.example"
    await world.clear_requests()
    await world.sync(f"freshbooks/client/{fb_id}")  # settled for good: no new conflict, no write
    async with world.engine.connect() as db:
        assert await list_conflicts(db, "default") == []


async def test_our_own_write_comes_back_as_an_echo_and_writes_nothing(world: World) -> None:
    fb_id, account, _ = await _linked(world, organization="Vandelay", lname="Costanza")
    await world.sf_update(account, Phone="555-0123")
    await world.sync(f"salesforce/Account/{account}")
    assert (await world.fb_get(fb_id))["bus_phone"] == "555-0123"
    await world.clear_requests()
    await world.sync(f"freshbooks/client/{fb_id}")  # the webhook our FreshBooks write causes
    fb_writes = [
        r for r in await world.requests("freshbooks") if r["method"] in {"POST", "PUT"}
    ]  # fmt: skip
    sf_writes = [
        r for r in await world.requests("salesforce") if r["method"] in {"POST", "PATCH"}
    ]  # fmt: skip
    assert (fb_writes, sf_writes) == ([], [])
    async with world.engine.connect() as db:
        echoes = (await db.execute(sa.select(events).where(events.c.source == "echo"))).all()
        logged = (
            await db.execute(sa.select(field_writes).where(field_writes.c.field == "bus_phone"))
        ).all()
    assert [(e.system, e.record_id) for e in echoes] == [("freshbooks", str(fb_id))]
    assert [(w.system, w.after) for w in logged] == [("freshbooks", "555-0123")]
