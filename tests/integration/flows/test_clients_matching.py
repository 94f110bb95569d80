"""Match before create, exactly-once creates after ambiguous failures, one pair per business."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from freshforce.flows.clients_plan import ambiguous_candidates
from freshforce.store.links import find_links
from freshforce.store.schema import dead_letters, links
from freshforce.store.scope import Scope

from .conftest import World

SCOPE = Scope("default", "clients")


async def _count(world: World, soql: str) -> int:
    return len(await world.soql(soql))


async def test_an_existing_account_is_matched_by_contact_email_not_duplicated(world: World) -> None:
    account = await world.sf_create("Account", Name="Stark Industries")
    await world.sf_create(
        "Contact", AccountId=account, LastName="Potts", Email="pepper@stark.example"
    )
    fb_id = await world.fb_create(
        organization="Stark Ind.", lname="Potts", email="Pepper@Stark.example"
    )
    await world.sync(f"freshbooks/client/{fb_id}")
    assert await _count(world, "SELECT Id FROM Account") == 1
    async with world.engine.connect() as db:
        [link] = await find_links(db, SCOPE, freshbooks_ids=[str(fb_id)])
    assert link.salesforce_id == account


async def test_an_existing_client_is_matched_by_normalised_name(world: World) -> None:
    fb_id = await world.fb_create(organization="Wayne Enterprises, Inc.", lname="Fox")
    account = await world.sf_create("Account", Name="WAYNE ENTERPRISES")
    await world.sync(f"salesforce/Account/{account}")
    clients = await world.fb_clients()
    assert [c["id"] for c in clients] == [fb_id]
    # First link of differing values: the policy (newest_wins) settles; the Account is newer.
    assert clients[0]["organization"] == "WAYNE ENTERPRISES"
    [found] = await world.soql(
        f"SELECT FreshBooks_Client_Id__c FROM Account WHERE Id = '{account}'"  # noqa: S608
    )
    assert found["FreshBooks_Client_Id__c"] == str(fb_id)


async def test_several_candidates_go_to_review_listing_them(world: World) -> None:
    first = await world.sf_create("Account", Name="Oscorp")
    second = await world.sf_create("Account", Name="Oscorp Ltd")
    fb_id = await world.fb_create(organization="Oscorp", lname="Osborn")
    await world.sync(f"freshbooks/client/{fb_id}")
    async with world.engine.connect() as db:
        [dead] = (await db.execute(sa.select(dead_letters))).all()
        assert (await db.execute(sa.select(links))).all() == []
    assert dead.error_class == "AmbiguousMatchError"
    assert sorted(ambiguous_candidates(dead.error_message)) == sorted([first, second])
    assert await _count(world, "SELECT Id FROM Account") == 2


async def test_the_same_company_created_on_both_sides_at_once_ends_as_one_pair(
    world: World,
) -> None:
    fb_id = await world.fb_create(organization="Acme, Inc.", lname="Coyote", email="w@acme.example")
    account = await world.sf_create("Account", Name="ACME")
    await world.sf_create("Contact", AccountId=account, LastName="Coyote", Email="w@acme.example")
    await world.enqueue("clients", f"freshbooks/client/{fb_id}", f"salesforce/Account/{account}")
    await asyncio.gather(world.sync(), world.sync())  # two workers at once
    assert await _count(world, "SELECT Id FROM Account") == 1
    assert len(await world.fb_clients()) == 1
    async with world.engine.connect() as db:
        assert len((await db.execute(sa.select(links))).all()) == 1


async def test_an_ambiguous_account_upsert_still_makes_one_account_and_contact(
    world: World,
) -> None:
    await world.fault(
        "salesforce", kind="ambiguous", method="PATCH", path="*/composite/sobjects/Account/*",
        times=1,
    )  # fmt: skip
    fb_id = await world.fb_create(organization="Cyberdyne", fname="Miles", lname="Dyson")
    await world.sync(f"freshbooks/client/{fb_id}")
    upserts = [r for r in await world.requests("salesforce") if "/sobjects/Account/" in r["path"]]
    # The answer was lost; the retry finds the Account by its external id and adopts it.
    assert [r["fault"] for r in upserts] == ["ambiguous"]
    assert await _count(world, "SELECT Id FROM Account") == 1
    assert await _count(world, "SELECT Id FROM Contact") == 1
    async with world.engine.connect() as db:
        assert len((await db.execute(sa.select(links))).all()) == 1


async def test_an_ambiguous_client_create_is_adopted_on_retry(world: World) -> None:
    await world.fault(
        "freshbooks", kind="ambiguous", method="POST", path="/accounting/*/users/clients",
        times=1,
    )  # fmt: skip
    account = await world.sf_create("Account", Name="Tyrell Corporation")
    await world.sync(f"salesforce/Account/{account}")
    posts = [r for r in await world.requests("freshbooks") if r["method"] == "POST"]
    assert [r["fault"] for r in posts if r["path"].endswith("/users/clients")] == ["ambiguous"]
    assert [c["organization"] for c in await world.fb_clients()] == ["Tyrell Corporation"]
    [found] = await world.soql(
        f"SELECT FreshBooks_Client_Id__c FROM Account WHERE Id = '{account}'"  # noqa: S608
    )
    assert found["FreshBooks_Client_Id__c"]
