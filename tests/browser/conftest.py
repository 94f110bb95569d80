"""Shared set-up of the browser tests: one chromium and one store per module and backend.

Launching chromium and migrating a database are the slow parts of a browser test, so each
module gets one browser (``browser``) and, per backend, one migrated store (``store``) with the
operator ``ana`` in it; each test gets a fresh browser context (``page``: no cookies carried
over) and serves its own app with ``serve``. Tests of one module therefore share the database:
each seeds what it needs under its own keys. The tests run on the module's event loop
(``pytestmark`` in browser_support.py), which also runs the servers.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from browser_support import CHROMIUM, PASSWORD_HASH, SCREENSHOTS, USER, Listener
from sqlalchemy.ext.asyncio import AsyncEngine

from db_support import fresh_database
from freshforce.settings import Settings
from freshforce.store.engine import create_engine
from freshforce.store.migrate import upgrade
from freshforce.store.users import Role, add_user
from freshforce.web import create_app


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An empty database on each backend, shared by the tests of one module."""
    with fresh_database(request.param, tmp_path_factory.mktemp("store")) as url:
        yield url


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def store(module_database_url: str) -> AsyncIterator[AsyncEngine]:
    """The module's database at the newest schema, holding the operator ``ana``."""
    await upgrade(module_database_url)
    engine = create_engine(module_database_url)
    async with engine.begin() as db:
        await add_user(
            db,
            username=USER,
            password_hash=PASSWORD_HASH,
            role=Role.OPERATOR,
            now=datetime.now(UTC),
        )
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    """Debian's chromium through Playwright, once per module (Any: playwright's Browser)."""
    from playwright.async_api import async_playwright  # noqa: PLC0415 - dev only

    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def page(browser: Any) -> AsyncIterator[Any]:
    """A new page in a context of its own: no cookies or storage from another test."""
    context = await browser.new_context(viewport={"width": 1200, "height": 800})
    try:
        yield await context.new_page()
    finally:
        await context.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def dashboard(
    store: AsyncEngine, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """The dashboard on the module's store (no OAuth apps), served on a socket; its address."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), web_session_key="s" * 40)
    async with Listener().serving(create_app(store, settings=settings)) as url:
        yield url


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go: docs/screenshots/ with ``FRESHFORCE_SAVE_SCREENSHOTS=1``."""
    return SCREENSHOTS if os.environ.get("FRESHFORCE_SAVE_SCREENSHOTS") else tmp_path
