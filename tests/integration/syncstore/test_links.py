from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.store.linking import (
    MoveResult,
    NewLink,
    create_link,
    create_links,
    move_link,
    set_link_keys,
    unlink,
    update_link,
)
from freshforce.store.links import find_links, find_links_by_key, get_link
from freshforce.store.scope import Scope
from freshforce.store.snapshots import Snapshot, load_snapshots, save_snapshot, save_snapshots

ACME = Scope("acme", "clients")
GLOBEX = Scope("globex", "clients")
ACCOUNT, CONTACT, MASTER = "001000000000001AAA", "003000000000001AAA", "001000000000002AAA"


async def test_a_link_is_found_by_each_id_and_key_in_its_tenant_only(
    store_engine: AsyncEngine,
) -> None:
    new = NewLink("42", ACCOUNT, CONTACT, {"userid": "7"}, frozenset({"org:acme"}))
    async with store_engine.begin() as db:
        link = await create_link(db, ACME, new)
    assert link is not None
    assert link.extra_ids == {"userid": "7"}
    async with store_engine.connect() as db:
        assert await find_links(db, ACME, freshbooks_ids=["42"]) == [link]
        assert await find_links(db, ACME, salesforce_ids=[ACCOUNT]) == [link]
        assert await find_links(db, ACME, salesforce_ids=[CONTACT]) == [link]
        assert await find_links_by_key(db, ACME, ["org:acme", "org:none"]) == {"org:acme": [link]}
        assert await get_link(db, ACME, link.id) == link
        assert await find_links(db, GLOBEX, freshbooks_ids=["42"]) == []
        assert await find_links_by_key(db, GLOBEX, ["org:acme"]) == {}
        assert await get_link(db, GLOBEX, link.id) is None


async def test_a_second_link_for_a_linked_id_is_refused_not_raised(
    store_engine: AsyncEngine,
) -> None:
    async with store_engine.begin() as db:
        first = await create_link(db, ACME, NewLink("42", ACCOUNT))
        again = await create_link(db, ACME, NewLink("43", ACCOUNT))
        other_tenant = await create_link(db, GLOBEX, NewLink("42", ACCOUNT))
    assert first is not None
    assert again is None
    assert other_tenant is not None


async def test_a_merge_moves_the_losers_link_to_the_master(store_engine: AsyncEngine) -> None:
    async with store_engine.begin() as db:
        link = await create_link(db, ACME, NewLink("42", ACCOUNT, CONTACT))
        assert link is not None
        moved = await move_link(db, ACME, old_salesforce_id=ACCOUNT, new_salesforce_id=MASTER)
        absent = await move_link(db, ACME, old_salesforce_id=ACCOUNT, new_salesforce_id=MASTER)
        contact = await move_link(
            db, ACME, old_salesforce_id=CONTACT, new_salesforce_id="003000000000009AAA"
        )
    assert (moved, absent, contact) == (
        MoveResult.MOVED,
        MoveResult.NOT_LINKED,
        MoveResult.MOVED,
    )
    async with store_engine.connect() as db:
        [now] = await find_links(db, ACME, freshbooks_ids=["42"])
    assert (now.salesforce_id, now.salesforce_secondary_id) == (MASTER, "003000000000009AAA")


async def test_a_merge_into_a_linked_master_changes_nothing(store_engine: AsyncEngine) -> None:
    async with store_engine.begin() as db:
        await create_link(db, ACME, NewLink("42", ACCOUNT))
        await create_link(db, ACME, NewLink("43", MASTER))
        result = await move_link(db, ACME, old_salesforce_id=ACCOUNT, new_salesforce_id=MASTER)
        links = await find_links(db, ACME, freshbooks_ids=["42", "43"])
    assert result is MoveResult.TARGET_LINKED
    assert [k.salesforce_id for k in links] == [ACCOUNT, MASTER]


async def test_update_replaces_the_contact_and_refuses_a_taken_one(
    store_engine: AsyncEngine,
) -> None:
    async with store_engine.begin() as db:
        one = await create_link(db, ACME, NewLink("1", ACCOUNT, CONTACT))
        two = await create_link(db, ACME, NewLink("2", MASTER))
        assert one is not None
        assert two is not None
        taken = await update_link(db, two, salesforce_secondary_id=CONTACT, extra_ids={})
        updated = await update_link(db, two, salesforce_secondary_id="003X", extra_ids={"a": "b"})
    assert taken is None
    assert updated is not None
    assert (updated.salesforce_secondary_id, updated.extra_ids) == ("003X", {"a": "b"})


async def test_snapshots_round_trip_and_go_with_their_link(store_engine: AsyncEngine) -> None:
    fb_time = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
    async with store_engine.begin() as db:
        link = await create_link(db, ACME, NewLink("42", ACCOUNT, keys=frozenset({"org:acme"})))
        assert link is not None
        await save_snapshot(db, link.id, Snapshot({"Account.Name": "Acme"}, fb_time, None))
        await save_snapshot(db, link.id, Snapshot({"Account.Name": "Acme 2", "n": 1.5}, fb_time))
    async with store_engine.connect() as db:
        snaps = await load_snapshots(db, [link.id, 999])
    assert list(snaps) == [link.id]
    assert snaps[link.id].fields == {"Account.Name": "Acme 2", "n": 1.5}
    assert snaps[link.id].freshbooks_modified_at == fb_time
    assert snaps[link.id].synced_at is not None
    async with store_engine.begin() as db:
        assert await unlink(db, ACME, link.id)
        assert not await unlink(db, ACME, link.id)
        assert await load_snapshots(db, [link.id]) == {}
        assert await find_links_by_key(db, ACME, ["org:acme"]) == {}


def test_a_scope_names_its_bad_part() -> None:
    with pytest.raises(ValueError, match="tenant"):
        Scope("", "clients")


async def test_a_batch_of_links_and_snapshots_is_stored_at_once(store_engine: AsyncEngine) -> None:
    batch = [
        NewLink("1", "001000000000011AAA", keys=frozenset({"org:one"})),
        NewLink("2", None, keys=frozenset({"org:two", "email:b@two.com"})),
        NewLink("1", "001000000000012AAA"),  # FreshBooks 1 is taken by the first
        NewLink("2", None),  # a repeat of the second
    ]
    async with store_engine.begin() as db:
        made = await create_links(db, ACME, batch)
        one, two = made[0], made[1]
        assert one is not None
        assert two is not None
        await save_snapshots(db, {one.id: Snapshot({"a": 1}), two.id: Snapshot({"a": 2})})
        await save_snapshots(db, {two.id: Snapshot({"a": 3})})
    assert [k is not None for k in made] == [True, True, False, False]
    async with store_engine.connect() as db:
        snaps = await load_snapshots(db, [one.id, two.id])
        keyed = await find_links_by_key(db, ACME, ["org:one", "email:b@two.com"])
    assert {i: s.fields for i, s in snaps.items()} == {one.id: {"a": 1}, two.id: {"a": 3}}
    assert keyed == {"org:one": [one], "email:b@two.com": [two]}


async def test_a_links_match_keys_are_replaced(store_engine: AsyncEngine) -> None:
    async with store_engine.begin() as db:
        link = await create_link(db, ACME, NewLink("42", None, keys=frozenset({"org:old"})))
        assert link is not None
        await set_link_keys(db, {link.id: ["org:new", "email:a@new.com"]})
        found = await find_links_by_key(db, ACME, ["org:old", "org:new", "email:a@new.com"])
    assert found == {"org:new": [link], "email:a@new.com": [link]}
