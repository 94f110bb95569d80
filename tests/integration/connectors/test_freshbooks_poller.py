"""The FreshBooks poller on the sandbox: catches changes, no duplicates, one poller a stream."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from freshforce.connectors.freshbooks.client import RESOURCES
from freshforce.engine import JobStatus
from freshforce.errors import LeaseLostError
from freshforce.intake import Cursor, FreshBooksPoller, PollerConfig
from freshforce.store.cursors import load_cursor
from freshforce.store.lease import acquire_lease, lease_holder, release_lease, renew_lease
from freshforce.store.schema import events

from .conftest import CONNECTION, FbWorld

EASTERN = ZoneInfo("America/New_York")
CLIENTS = RESOURCES["clients"]


async def set_sandbox_time(world: FbWorld, moment: datetime) -> None:
    offset = (moment - datetime.now(UTC)).total_seconds()
    await world.admin.put("/_sandbox/clock", json={"offset_seconds": offset})


async def poller(world: FbWorld, holder: str = "poller-1", **config: object) -> FreshBooksPoller:
    return await world.runtime.freshbooks_poller(
        CONNECTION,
        holder=holder,
        config=PollerConfig(**config),  # type: ignore[arg-type]
    )


async def stored_events(world: FbWorld) -> list[str | None]:
    async with world.engine.connect() as db:
        rows = await db.execute(sa.select(events.c.record_id).order_by(events.c.id))
        return [r.record_id for r in rows]


async def test_poller_catches_changes_across_the_eastern_day_boundary_without_duplicates(
    fb_world: FbWorld,
) -> None:
    client = await fb_world.client()
    await set_sandbox_time(fb_world, datetime(2026, 1, 15, 23, 59, 50, tzinfo=EASTERN))
    late = await client.create(CLIENTS, {"email": "late@example.com"})
    await set_sandbox_time(fb_world, datetime(2026, 1, 16, 0, 0, 5, tzinfo=EASTERN))
    early = await client.create(CLIENTS, {"email": "early@example.com"})
    polling = await poller(fb_world)

    first = await polling.poll("clients")
    again = await polling.poll("clients")

    assert first is not None
    assert again is not None
    assert (first.new, again.new) == (2, 0)
    assert again.duplicates == 2  # the overlap re-read both and dropped both
    assert await stored_events(fb_world) == [str(late.id), str(early.id)]
    assert first.watermark == early.updated

    await set_sandbox_time(fb_world, datetime(2026, 1, 16, 0, 1, 0, tzinfo=EASTERN))
    await client.update(CLIENTS, late.id, {"fname": "Changed"})
    third = await polling.poll("clients")
    assert third is not None
    assert third.new == 1
    assert await stored_events(fb_world) == [str(late.id), str(early.id), str(late.id)]
    jobs = await fb_world.runtime.queue().jobs(status=JobStatus.PENDING)
    assert sorted(j.key for j in jobs) == sorted(
        [f"freshbooks/client/{late.id}", f"freshbooks/client/{early.id}"]
    )  # coalesced: one pending job per record
    async with fb_world.engine.connect() as db:
        cursor = await load_cursor(db, CONNECTION, "freshbooks/poll/clients")
    assert cursor is not None
    assert str(late.id) in cursor


async def test_poller_filters_by_the_eastern_day_not_the_utc_day(fb_world: FbWorld) -> None:
    client = await fb_world.client()
    polling = await poller(fb_world)
    # 20:00 Eastern is already the next day in UTC: a UTC-day filter would skip what follows.
    await set_sandbox_time(fb_world, datetime(2026, 1, 15, 20, 0, 0, tzinfo=EASTERN))
    await client.create(CLIENTS, {"email": "evening@example.com"})
    assert (await polling.poll("clients")) is not None
    await set_sandbox_time(fb_world, datetime(2026, 1, 15, 20, 5, 0, tzinfo=EASTERN))
    later = await client.create(CLIENTS, {"email": "later@example.com"})

    result = await polling.poll("clients")

    assert result is not None
    assert result.new == 1
    assert (await stored_events(fb_world))[-1] == str(later.id)


async def test_only_one_poller_per_stream_and_a_lost_lease_commits_nothing(
    fb_world: FbWorld,
) -> None:
    await (await fb_world.client()).create(CLIENTS, {"email": "one@example.com"})
    first, second = await poller(fb_world, "a"), await poller(fb_world, "b")
    assert await first.poll("clients") is not None
    assert await second.poll("clients") is None  # a still holds the lease

    name = first.keeper("clients").name
    async with fb_world.engine.begin() as db:  # a's lease runs out; b takes over
        assert await renew_lease(db, name, "a", ttl=timedelta(seconds=-1))
        assert await acquire_lease(db, name, "b", ttl=timedelta(minutes=1))
    await (await fb_world.client()).create(CLIENTS, {"email": "two@example.com"})
    with pytest.raises(LeaseLostError):
        await first._run("clients", first.keeper("clients"), Cursor("2000-01-01T00:00:00+00:00"))
    assert len(await stored_events(fb_world)) == 1


async def test_lease_compare_and_set(fb_world: FbWorld) -> None:
    ttl, short = timedelta(seconds=30), timedelta(seconds=0.3)
    async with fb_world.engine.begin() as db:
        assert await acquire_lease(db, "L", "a", ttl=ttl)
        assert await acquire_lease(db, "L", "a", ttl=ttl)  # re-entrant
        assert not await acquire_lease(db, "L", "b", ttl=ttl)
        assert not await renew_lease(db, "L", "b", ttl=ttl)
        assert await renew_lease(db, "L", "a", ttl=short)
        assert await lease_holder(db, "L") == "a"
    await asyncio.sleep(0.6)  # the database's clock runs the lease out
    async with fb_world.engine.begin() as db:
        assert await lease_holder(db, "L") is None
        assert not await renew_lease(db, "L", "a", ttl=ttl)
        assert await acquire_lease(db, "L", "b", ttl=ttl)
        assert not await release_lease(db, "L", "a")
        assert await release_lease(db, "L", "b")
        assert await lease_holder(db, "L") is None


async def test_a_polled_invoice_also_feeds_the_mirror_flows(fb_world: FbWorld) -> None:
    client = await fb_world.client()
    buyer = await client.create(CLIENTS, {"email": "buyer@example.com"})
    made = await client.create(RESOURCES["invoices"], {"customerid": buyer.id, "lines": []})
    polling = await poller(fb_world, also={"invoices": ("mirror_invoices",)})

    found = await polling.poll("invoices")

    assert found is not None
    assert found.new == 1
    jobs = await fb_world.runtime.queue().jobs(status=JobStatus.PENDING)
    key = f"freshbooks/invoice/{made.id}"
    assert sorted((j.flow, j.key) for j in jobs) == [("mirror_invoices", key), ("payments", key)]
