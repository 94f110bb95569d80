"""Fixtures shared by every tier: a fresh database on each backend."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from db_support import MigratedTemplates, fresh_database
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


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MigratedTemplates]:
    """Databases the real migrations brought to the newest schema once, copied per test."""
    templates = MigratedTemplates(tmp_path_factory.mktemp("templates"))
    yield templates
    templates.drop()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, migrated_templates: MigratedTemplates
) -> Iterator[str]:
    """A database of its own on SQLite and on PostgreSQL, dropped after the test.

    Empty, unless the test asks for ``store_engine``: then a copy of the migrated template.
    """
    migrated = "store_engine" in request.fixturenames
    template = migrated_templates.template(request.param) if migrated else None
    with fresh_database(request.param, tmp_path, template=template) as url:
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
async def store_engine(engine: AsyncEngine) -> AsyncEngine:
    """The test's database at the newest schema (a copy of the migrated template)."""
    return engine
