"""Fixtures shared by every tier: a fresh database on each backend."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from db_support import fresh_database
from freshforce.store.engine import create_engine


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Undo what ``configure_logging`` does to the process-wide logging setup."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    names = ("alembic", "sqlalchemy", "asyncio", "aiosqlite")
    chatty = {name: logging.getLogger(name).level for name in names}
    yield
    root.handlers, root.level = handlers, level
    for name, old in chatty.items():
        logging.getLogger(name).setLevel(old)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, on SQLite and on PostgreSQL: each test gets its own and drops it."""
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An async engine on the fresh database, disposed after the test."""
    eng = create_engine(database_url)
    try:
        yield eng
    finally:
        await eng.dispose()


@pytest.fixture
async def store_engine(engine: AsyncEngine, database_url: str) -> AsyncEngine:
    """The fresh database brought to the newest schema by the real migrations."""
    from freshforce.store.migrate import upgrade  # noqa: PLC0415 - keeps collection import-light

    await upgrade(database_url)
    return engine
