"""Deletes, archives, restores, merges and undeletes follow the map's delete policy."""

from __future__ import annotations

from freshforce.store.links import find_links
from freshforce.store.scope import Scope

from .conftest import World

SCOPE = Scope("default", "clients")


async def _linked(world: World, name: str) -> tuple[int, str]:
    fb_id = await world.fb_create(organization=name, lname="Person")
    await world.sync(f"freshbooks/client/{fb_id}")
    [account] = await world.soql(
        f"SELECT Id FROM Account WHERE FreshBooks_Client_Id__c = '{fb_id}'"  # noqa: S608
    )
    return fb_id, account["Id"]


async def _link_of(world: World, fb_id: int) -> list[object]:
    async with world.engine.connect() as db:
        return list(await find_links(db, SCOPE, freshbooks_ids=[str(fb_id)]))


async def test_a_client_deleted_in_freshbooks_unlinks_and_keeps_the_account(world: World) -> None:
    fb_id, account = await _linked(world, "Dunder Mifflin")
    await world.fb_action(fb_id, "delete")
    await world.sync(f"freshbooks/client/{fb_id}")
    assert await _link_of(world, fb_id) == []
    assert len(await world.soql(f"SELECT Id FROM Account WHERE Id = '{account}'")) == 1  # noqa: S608


async def test_an_account_deleted_archives_the_client_and_undelete_restores_it(
    world: World,
) -> None:
    fb_id, account = await _linked(world, "Sterling Cooper")
    await world.sf_ui("delete", id=account)
    await world.sync(f"salesforce/Account/{account}")
    assert (await world.fb_get(fb_id))["vis_state"] == 2
    assert len(await _link_of(world, fb_id)) == 1  # kept, so an undelete can bring it back

    await world.sf_ui("undelete", id=account)
    await world.sync(f"salesforce/Account/{account}")
    assert (await world.fb_get(fb_id))["vis_state"] == 0


async def test_a_merge_moves_the_link_to_the_surviving_account(world: World) -> None:
    fb_id, loser = await _linked(world, "Pied Piper")
    master = await world.sf_create("Account", Name="Pied Piper Inc")
    await world.sf_ui("merge", object="Account", master=master, losers=[loser])
    await world.sync(f"salesforce/Account/{loser}")
    [link] = await _link_of(world, fb_id)
    assert link.salesforce_id == master  # type: ignore[attr-defined]
    await world.fb_update(fb_id, bus_phone="555-0142")
    await world.sync(f"freshbooks/client/{fb_id}")
    [found] = await world.soql(f"SELECT Phone FROM Account WHERE Id = '{master}'")  # noqa: S608
    assert found["Phone"] == "555-0142"


async def test_a_contact_edit_syncs_through_its_account_link(world: World) -> None:
    fb_id, account = await _linked(world, "Massive Dynamic")
    [contact] = await world.soql(f"SELECT Id FROM Contact WHERE AccountId = '{account}'")  # noqa: S608
    await world.sf_update(contact["Id"], MobilePhone="555-0177", FirstName="Nina")
    await world.sync(f"salesforce/Contact/{contact['Id']}")
    client = await world.fb_get(fb_id)
    assert (client["mob_phone"], client["fname"]) == ("555-0177", "Nina")
