from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.store.conflicts import (
    ConflictKind,
    ConflictStatus,
    Parked,
    Resolution,
    close_fixed,
    get_conflict,
    list_conflicts,
    open_conflicts,
    park_conflict,
    resolve_conflict,
    settled_conflicts,
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


def _refused(link_id: int, value: str = "x at y") -> Parked:
    return Parked(
        link_id, "Contact.Email", None, value, None,
        kind=ConflictKind.REFUSED, refused_by="salesforce",
        error_code="INVALID_EMAIL_ADDRESS", error_message=f"Email: invalid email address: {value}",
    )  # fmt: skip


async def test_a_refused_field_keeps_its_error_and_closes_only_as_fixed(
    store_engine: AsyncEngine,
) -> None:
    link_id = await _link(store_engine)
    async with store_engine.begin() as db:
        first = await park_conflict(db, ACME, _refused(link_id))
        again = await park_conflict(db, ACME, _refused(link_id, "x at z"))
        other = await park_conflict(
            db, ACME, Parked(link_id, "Account.Name", "A", "B", "C")
        )  # a both-sides conflict is not closed by a fix
        closed = await close_fixed(
            db, ACME, link_id, {"Contact.Email": "x@y.example", "Account.Name": "B"}
        )
        settled = await settled_conflicts(db, ACME, [link_id])
        still = await open_conflicts(db, ACME, [link_id])
    assert again.id == first.id
    assert (again.kind, again.refused_by, again.error_code) == (
        ConflictKind.REFUSED, "salesforce", "INVALID_EMAIL_ADDRESS",
    )  # fmt: skip
    assert again.error_message == "Email: invalid email address: x at z"
    assert again.parked.refused_value == "x at z"
    assert other.kind is ConflictKind.CONFLICT
    [fixed] = closed
    assert (fixed.id, fixed.status, fixed.resolution) == (
        first.id, ConflictStatus.RESOLVED, Resolution.FIXED,
    )  # fmt: skip
    assert (fixed.resolved_value, fixed.resolved_by) == ("x@y.example", "freshforce")
    assert settled == {}  # fixed at the source: nothing for the next sync to apply
    assert list(still[link_id]) == ["Account.Name"]
