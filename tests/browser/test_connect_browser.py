"""A real browser connects both systems through the dashboard's OAuth pages.

The FreshBooks and Salesforce sandboxes run on sockets of their own and serve their real
authorize pages (FreshBooks' consent, Salesforce's login-and-allow); the browser goes there from
the Connections page and comes back to the dashboard's callback, which checks the ``state``.
The sandboxes are addressed as ``localhost`` and the dashboard as ``127.0.0.1``: two different
sites, so the way back is a cross-site redirect, as with the real providers. Same set-up as
test_dashboard_browser.py (conftest.py); ``FRESHFORCE_SAVE_SCREENSHOTS=1`` refreshes
docs/screenshots/connections.png.
"""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
import structlog
from browser_support import Listener, log_in, pytestmark
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.logs import configure_logging
from freshforce.sandbox.core import SandboxServer
from freshforce.sandbox.freshbooks import DEFAULT_APP, FreshBooksOptions, build_freshbooks
from freshforce.sandbox.salesforce import SalesforceSandbox, build_salesforce_sandbox
from freshforce.settings import Settings
from freshforce.store.audit import list_audit
from freshforce.store.connections import load_connection
from freshforce.store.crypto import TokenCipher, new_key
from freshforce.store.schema import connections
from freshforce.web import create_app

__all__ = ["pytestmark"]  # skipped without chromium; on the module's loop

KEY = SecretStr(new_key())


@dataclass(frozen=True)
class World:
    """The dashboard and the two sandboxes it connects to."""

    dashboard: str
    freshbooks: str
    salesforce: str
    org: SalesforceSandbox
    log: io.StringIO  # everything logged meanwhile, at DEBUG


@contextmanager
def _logged(stream: io.StringIO) -> Iterator[None]:
    """Log everything, SQL included, to ``stream`` as ``freshforce web`` would; then undo it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    names = ("alembic", "sqlalchemy", "asyncio", "aiosqlite", "httpx", "httpcore")
    chatty = {name: logging.getLogger(name).level for name in names}
    configure_logging(Settings(log_level="DEBUG"), stream=stream)
    try:
        yield
    finally:
        root.handlers, root.level = handlers, level
        for name, old in chatty.items():
            logging.getLogger(name).setLevel(old)
        structlog.reset_defaults()


def _local(server: SandboxServer) -> str:
    return f"http://localhost:{server.port}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(
    store: AsyncEngine, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    """The sandboxes serving from threads, the dashboard on the module's loop.

    The Salesforce org accepts only the dashboard's callback as redirect URI.
    """
    listener = Listener()
    org = build_salesforce_sandbox(
        redirect_uris=(f"{listener.url}/connections/salesforce/callback",)
    )
    freshbooks = SandboxServer(build_freshbooks(FreshBooksOptions()).app)
    salesforce = SandboxServer(org.app)
    freshbooks.start_in_thread()
    salesforce.start_in_thread()
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        web_session_key="c" * 40,
        encryption_keys=[KEY],
        freshbooks_client_id=DEFAULT_APP.client_id,
        freshbooks_client_secret=SecretStr(DEFAULT_APP.client_secret),
        freshbooks_api_url=_local(freshbooks),
        freshbooks_auth_url=_local(freshbooks),
        salesforce_client_id=org.client_id,
        salesforce_client_secret=SecretStr(org.client_secret),
        salesforce_login_url=_local(salesforce),
    )
    log = io.StringIO()
    try:
        with _logged(log):
            async with listener.serving(create_app(store, settings=settings)) as url:
                yield World(url, _local(freshbooks), _local(salesforce), org, log)
    finally:
        freshbooks.stop()
        salesforce.stop()


async def _sign_in_to_salesforce(page: Any, world: World) -> None:
    from playwright.async_api import expect  # noqa: PLC0415 - dev only

    await expect(page.locator("h1")).to_contain_text("Salesforce sandbox")
    assert page.url.startswith(f"{world.salesforce}/services/oauth2/authorize?")
    await page.fill("input[name=username]", world.org.username)
    await page.fill("input[name=password]", world.org.password)
    await page.click("button[value=approve]")


async def _secrets(store: AsyncEngine) -> list[str]:
    """Every token the store holds, in the clear."""
    cipher = TokenCipher([KEY])
    found = []
    async with store.connect() as db:
        for name in ("freshbooks", "salesforce"):
            connection = await load_connection(db, cipher, name)
            assert connection is not None
            for token in (connection.tokens.access_token, connection.tokens.refresh_token):
                assert token is not None
                found.append(token.get_secret_value())
    return found


async def _no_secret_in_page_or_store(page: Any, world: World, store: AsyncEngine) -> None:
    """No token or client secret in the page or the log; the stored tokens are encrypted."""
    html = await page.content()
    secrets = await _secrets(store)
    secrets += [DEFAULT_APP.client_secret, world.org.client_secret, world.org.password]
    assert not [s for s in secrets if s in html]
    logged = world.log.getvalue()
    assert "connections" in logged  # the SQL that stored them, at least
    assert not [s for s in secrets if s in logged]
    async with store.connect() as db:
        rows = (await db.execute(sa.select(connections))).mappings().all()
    stored = " ".join(str(value) for row in rows for value in row.values())
    assert not [s for s in secrets if s in stored]


async def test_connect_both_systems_then_disconnect_and_reconnect(
    world: World, store: AsyncEngine, page: Any, shots: Path
) -> None:
    from playwright.async_api import expect  # noqa: PLC0415 - dev only

    await page.goto(f"{world.dashboard}/connections")
    await log_in(page)
    await expect(page.locator("h1")).to_have_text("Connections")
    await expect(page.locator("p.empty")).to_contain_text("No connections yet")

    # FreshBooks: the sandbox's consent page lists the scopes asked for; allow.
    await page.click("#connect-freshbooks")
    await expect(page.locator("h1")).to_have_text("FreshBooks sandbox")
    assert page.url.startswith(f"{world.freshbooks}/oauth/authorize?")
    await expect(page.locator("li").first).to_contain_text("user:")
    await page.click("button[value=approve]")
    await expect(page).to_have_url(f"{world.dashboard}/connections?connected=freshbooks")
    await expect(page.locator("p.notice")).to_have_text("Connected freshbooks.")
    freshbooks = page.locator("#connection-freshbooks")
    await expect(freshbooks.locator(".status")).to_have_text("active")
    await expect(freshbooks.locator(".health")).to_have_text("ok")
    await expect(freshbooks.locator(".scopes")).to_contain_text("user:clients:write")

    # Salesforce: log in to the org and allow (PKCE; only this callback is registered).
    await page.click("#connect-salesforce")
    await _sign_in_to_salesforce(page, world)
    await expect(page).to_have_url(f"{world.dashboard}/connections?connected=salesforce")
    salesforce = page.locator("#connection-salesforce")
    await expect(salesforce.locator(".status")).to_have_text("active")
    await expect(salesforce.locator(".health")).to_have_text("ok")
    await expect(salesforce.locator(".scopes")).to_have_text("api refresh_token")
    await expect(salesforce).to_contain_text(world.org.state.org_id)
    await page.screenshot(path=str(shots / "connections.png"), full_page=True)

    await _no_secret_in_page_or_store(page, world, store)

    # Disconnect FreshBooks (the page asks first), then connect it again.
    page.once("dialog", lambda dialog: dialog.accept())
    await page.click("#disconnect-freshbooks")
    await expect(page).to_have_url(f"{world.dashboard}/connections")
    await expect(page.locator("#connection-freshbooks")).to_have_count(0)
    await expect(page.locator("#connection-salesforce")).to_have_count(1)
    await page.click("#connect-freshbooks")
    await page.click("button[value=approve]")
    await expect(freshbooks.locator(".health")).to_have_text("ok")

    # Reconnect Salesforce under the same name: new tokens, same connection.
    before = await _secrets(store)
    await page.click("#connect-salesforce")
    await _sign_in_to_salesforce(page, world)
    await expect(page.locator("p.notice")).to_have_text("Connected salesforce.")
    await expect(salesforce.locator(".status")).to_have_text("active")
    after = await _secrets(store)
    assert after[2:] != before[2:]  # Salesforce's pair was replaced
    async with store.connect() as db:
        actions = [(e.action, e.target) for e in await list_audit(db, actor="ana")]
    assert actions.count(("connection.connect", "connection:freshbooks")) == 2
    assert actions.count(("connection.connect", "connection:salesforce")) == 2
    assert actions.count(("connection.disconnect", "connection:freshbooks")) == 1


async def test_deny_on_the_consent_page_connects_nothing(world: World, page: Any) -> None:
    from playwright.async_api import expect  # noqa: PLC0415 - dev only

    await page.goto(f"{world.dashboard}/connections")
    await log_in(page)
    await page.fill("input[aria-label='FreshBooks connection name']", "fb-denied")
    await page.click("#connect-freshbooks")
    await page.click("button[value=deny]")
    await expect(page.locator("p.error")).to_have_text(
        "freshbooks refused the authorisation (access_denied)"
    )
    await expect(page.locator("#connection-fb-denied")).to_have_count(0)
