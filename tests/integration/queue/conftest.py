"""Fixtures of the queue tests: a settable clock and a queue on the fresh store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.engine.queue import JobQueue, QueueConfig


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def queue(store_engine: AsyncEngine, clock: FakeClock) -> JobQueue:
    return JobQueue(store_engine, clock=clock, config=QueueConfig(lease_seconds=30, max_attempts=3))
