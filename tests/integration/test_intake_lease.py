"""The lease keeper on both backends: renews on a timer, cancels the work it guards when lost."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.clock import system_clock
from freshforce.errors import LeaseLostError
from freshforce.intake import LeaseKeeper, Stream
from freshforce.store.lease import lease_holder
from freshforce.store.schema import leases

STREAM = Stream("c1", "freshbooks/poll/clients")


def keeper(engine: AsyncEngine, holder: str, ttl: float = 0.6) -> LeaseKeeper:
    return LeaseKeeper(
        engine, STREAM, holder=holder, ttl=timedelta(seconds=ttl), clock=system_clock
    )


async def holder_now(engine: AsyncEngine) -> str | None:
    async with engine.connect() as db:
        return await lease_holder(db, STREAM.lease_name)


async def test_work_outlives_the_ttl_and_keeps_the_lease(store_engine: AsyncEngine) -> None:
    mine = keeper(store_engine, "a")
    assert STREAM.lease_name == "c1/freshbooks/poll/clients"
    assert await mine.acquire()

    async def quiet_work() -> str:
        await asyncio.sleep(1.5)  # more than twice the TTL without a commit
        return "done"

    assert await mine.guard(quiet_work()) == "done"
    assert mine.renewals >= 3
    assert await holder_now(store_engine) == "a"
    assert not await keeper(store_engine, "b").acquire()


async def test_a_refused_renewal_cancels_the_work(store_engine: AsyncEngine) -> None:
    mine = keeper(store_engine, "a")
    assert await mine.acquire()
    cancelled = asyncio.Event()

    async def long_work() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def steal() -> None:
        await asyncio.sleep(0.1)
        async with store_engine.begin() as db:
            far = datetime(2999, 1, 1, tzinfo=UTC)
            await db.execute(sa.update(leases).values(holder="b", expires_at=far))

    thief = asyncio.create_task(steal())
    with pytest.raises(LeaseLostError, match="c1/freshbooks/poll/clients"):
        await asyncio.wait_for(mine.guard(long_work()), 5)
    await thief
    assert cancelled.is_set()
    assert await holder_now(store_engine) == "b"


async def test_the_work_error_is_the_one_raised(store_engine: AsyncEngine) -> None:
    mine = keeper(store_engine, "a")
    assert await mine.acquire()

    async def failing() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await mine.guard(failing())
    await mine.release()
    assert await holder_now(store_engine) is None
