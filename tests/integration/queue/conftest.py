"""Fixtures of the queue tests: a queue on the fresh store, and a way to move database time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.engine.queue import JobQueue, QueueConfig
from freshforce.store.schema import jobs


async def _travel(engine: AsyncEngine, seconds: float) -> None:
    shift = timedelta(seconds=seconds)
    columns = ("run_at", "not_before", "lease_expires_at", "created_at", "updated_at")
    async with engine.begin() as conn:
        rows = (await conn.execute(sa.select(jobs.c.id, *(jobs.c[c] for c in columns)))).all()
        for row in rows:
            moved = {c: getattr(row, c) - shift for c in columns if getattr(row, c) is not None}
            await conn.execute(sa.update(jobs).where(jobs.c.id == row.id).values(**moved))


@pytest.fixture
def queue(store_engine: AsyncEngine) -> JobQueue:
    return JobQueue(store_engine, config=QueueConfig(lease_seconds=30, max_attempts=3))


@pytest.fixture
def travel(store_engine: AsyncEngine) -> Callable[[float], Awaitable[None]]:
    """Move the jobs' stored times N seconds into the past: as if the database's clock ran on."""

    async def move(seconds: float) -> None:
        await _travel(store_engine, seconds)

    return move
