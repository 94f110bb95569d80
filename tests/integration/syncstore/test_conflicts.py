from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.store.conflicts import (
    ConflictStatus,
    Parked,
    Resolution,
    get_conflict,
    list_conflicts,
    open_conflicts,
    park_conflict,
    resolve_conflict,
)
from freshforce.store.linking import NewLink, create_link, unlink
from freshforce.store.scope import Scope

ACME = Scope("acme", "clients")
WHEN = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


async def _link(engine: AsyncEngine) -> int:
    async with engine.begin() as db:
        link = await create_link(db, ACME, NewLink("42", "001000000000001AAA"))
    assert link is not None
    return link.id


def _parked(link_id: int, fb: str = "a@x.com", sf: str = "b@x.com") -> Parked:
    return Parked(link_id, "Contact.Email", "o@x.com", fb, sf, "fb-user", WHEN, "005U", WHEN)


async def test_a_field_is_parked_once_and_refreshed(store_engine: AsyncEngine) -> None:
    link_id = await _link(store_engine)
    async with store_engine.begin() as db:
        first = await park_conflict(db, ACME, _parked(link_id))
        again = await park_conflict(db, ACME, _parked(link_id, sf="c@x.com"))
        waiting = await open_conflicts(db, ACME, [link_id, 999])
    assert again.id == first.id
    assert again.parked.salesforce_value == "c@x.com"
    assert again.parked.freshbooks_changed_at == WHEN
    assert again.status is ConflictStatus.OPEN
    assert list(waiting) == [link_id]
    assert waiting[link_id]["Contact.Email"] == again


async def test_resolving_is_a_compare_and_set(store_engine: AsyncEngine) -> None:
    link_id = await _link(store_engine)
    async with store_engine.begin() as db:
        conflict = await park_conflict(db, ACME, _parked(link_id))
    async with store_engine.begin() as db:
        done = await resolve_conflict(
            db, "acme", conflict.id, resolution=Resolution.VALUE, value="d@x.com", resolved_by="ann"
        )
        twice = await resolve_conflict(
            db, "acme", conflict.id, resolution=Resolution.SALESFORCE, value=None, resolved_by="bo"
        )
        other_tenant = await get_conflict(db, "globex", conflict.id)
    assert done is not None
    assert (done.status, done.resolution, done.resolved_value) == (
        ConflictStatus.RESOLVED,
        Resolution.VALUE,
        "d@x.com",
    )
    assert done.resolved_at is not None
    assert twice is None
    assert other_tenant is None
    async with store_engine.begin() as db:
        assert await list_conflicts(db, "acme") == []
        assert [c.id for c in await list_conflicts(db, "acme", status=None)] == [conflict.id]
        assert await open_conflicts(db, ACME, [link_id]) == {}
        reopened = await park_conflict(db, ACME, _parked(link_id))
    assert reopened.id != conflict.id


async def test_unlinking_drops_the_links_conflicts(store_engine: AsyncEngine) -> None:
    link_id = await _link(store_engine)
    async with store_engine.begin() as db:
        await park_conflict(db, ACME, _parked(link_id))
        await unlink(db, ACME, link_id)
        assert await list_conflicts(db, "acme", status=None) == []
