"""Fixtures of the dashboard tests: an app on the fresh store, users, a logged-in client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from web_support import PASSWORD_HASH, FakeClock

from freshforce.engine.queue import JobQueue
from freshforce.settings import Settings
from freshforce.store.users import Role, add_user
from freshforce.web import create_app


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, web_session_key="k" * 40)


@pytest.fixture
async def users(store_engine: AsyncEngine, clock: FakeClock) -> None:
    async with store_engine.begin() as conn:
        for name, role in (("olga", Role.OPERATOR), ("vic", Role.VIEWER)):
            await add_user(conn, username=name, password_hash=PASSWORD_HASH, role=role, now=clock())


@pytest.fixture
async def app_client(
    store_engine: AsyncEngine, settings: Settings, clock: FakeClock, users: None
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(store_engine, settings=settings, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def queue(store_engine: AsyncEngine, clock: FakeClock) -> JobQueue:
    return JobQueue(store_engine, clock=clock)
