"""A real browser on the dashboard: log in, see the overview, replay a dead letter.

Drives Debian's chromium (``apt-get install -y chromium``) through Playwright; no browser is
downloaded. Set ``FRESHFORCE_SAVE_SCREENSHOTS=1`` to refresh the pictures in docs/screenshots/.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.engine.queue import JobQueue, JobStatus
from freshforce.settings import Settings
from freshforce.store.alerts import raise_alert
from freshforce.store.connections import NewConnection, Tokens, save_connection
from freshforce.store.crypto import TokenCipher, new_key
from freshforce.store.users import Role, add_user
from freshforce.web import create_app
from freshforce.web.passwords import hash_password

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "correct horse battery"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="no chromium at /usr/bin/chromium; install it with `apt-get install -y chromium`",
)


def _now() -> datetime:
    return datetime.now(UTC)


async def _seed(engine: AsyncEngine, queue: JobQueue) -> int:
    async with engine.begin() as conn:
        await queue.enqueue(conn, "payments", "fb:payment:4", ["changed"])
    [job] = await queue.claim("worker-1", 1)
    letter = await queue.bury(
        job,
        "worker-1",
        started_at=_now(),
        error_class="PermanentError",
        error_message="Amount: '12,50' is not a number",
    )
    assert letter is not None
    async with engine.begin() as conn:
        await add_user(
            conn,
            username="ana",
            password_hash=hash_password(PASSWORD),
            role=Role.OPERATOR,
            now=_now(),
        )
        for n in range(3):
            await queue.enqueue(conn, "invoices", f"fb:invoice:{n}", ["changed"])
        await queue.enqueue(conn, "clients", "fb:client:9", ["changed"])
        cipher = TokenCipher([SecretStr(new_key())])
        for cid, system in (("freshbooks-acme", "freshbooks"), ("salesforce-acme", "salesforce")):
            tokens = Tokens(SecretStr("a"), SecretStr("r"), _now() + timedelta(hours=8))
            new = NewConnection(id=cid, system=system, tokens=tokens)  # type: ignore[arg-type]
            await save_connection(conn, cipher, new, now=_now())
        await raise_alert(
            conn, kind="dead_letters", message="1 job needs a look", now=_now(), severity="warning"
        )
    return letter


@pytest.fixture
async def dashboard(store_engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[str]:
    settings = Settings(data_dir=tmp_path, web_session_key="s" * 40)
    app = create_app(store_engine, settings=settings)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
        server.should_exit = True
        await task


async def test_log_in_see_the_overview_and_replay_a_dead_letter(
    dashboard: str, store_engine: AsyncEngine, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright, expect  # noqa: PLC0415 - dev only

    queue = JobQueue(store_engine, clock=_now)
    letter = await _seed(store_engine, queue)
    shots = SCREENSHOTS if os.environ.get("FRESHFORCE_SAVE_SCREENSHOTS") else tmp_path
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = await browser.new_page(viewport={"width": 1200, "height": 800})
            await page.goto(f"{dashboard}/")
            await expect(page).to_have_url(f"{dashboard}/login?next=/")
            await page.fill("input[name=username]", "ana")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await expect(page.locator("h1")).to_have_text("Overview")
            await expect(page.locator("#dead-count")).to_have_text("1")
            await expect(page.locator("text=freshbooks-acme")).to_be_visible()
            await page.screenshot(path=str(shots / "overview.png"), full_page=True)

            await page.click("#dead-count")
            await page.click(f"a[href='/dead-letters/{letter}']")
            await expect(page.locator("h1")).to_have_text(f"Dead letter {letter}")
            await page.screenshot(path=str(shots / "dead-letter.png"), full_page=True)
            await page.click("#replay")
            await expect(page.locator("#replayed")).not_to_have_text("not yet")
        finally:
            await browser.close()
    keys = {j.key for j in await queue.jobs(status=JobStatus.PENDING)}
    assert "fb:payment:4" in keys
