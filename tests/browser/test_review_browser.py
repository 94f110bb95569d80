"""A real browser on the review and operations pages: settle an ambiguous match, read the audit
log and the configuration, see the listeners and drift on the overview.

Same set-up as test_dashboard_browser.py (Debian's chromium through Playwright, conftest.py);
``FRESHFORCE_SAVE_SCREENSHOTS=1`` refreshes the pictures in docs/screenshots/.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from browser_support import log_in, pytestmark
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.engine.queue import Failure, JobQueue, JobStatus, Settlement
from freshforce.intake.stream import Cursor
from freshforce.store.cursors import save_cursor
from freshforce.store.drift import record_reconcile
from freshforce.store.lease import acquire_lease

__all__ = ["pytestmark"]  # skipped without chromium; on the module's loop

FIRST, SECOND = "001000000000001AAA", "001000000000002AAA"
CDC = "salesforce/cdc/data/AccountChangeEvent"


def _now() -> datetime:
    return datetime.now(UTC)


async def _seed(engine: AsyncEngine, queue: JobQueue) -> int:
    """An ambiguous match, a held stream and a reconcile result; return the match."""
    async with engine.begin() as db:
        await queue.enqueue(db, "clients", "freshbooks/client/7", [{"source": "webhook"}])
        assert await acquire_lease(db, f"sf-main/{CDC}", "web-1:4242", ttl=timedelta(minutes=5))
        await save_cursor(db, "sf-main", CDC, Cursor("AAAAAAAAB2Q=").dump(), now=_now())
        await save_cursor(
            db, "fb-main", "freshbooks/poll/clients", Cursor("2026-12-05T05:00:00Z").dump(),
            now=_now(),
        )  # fmt: skip
        await record_reconcile(
            db, tenant="default", flow="clients", counts={"Account without a link": 2},
            samples={"Account without a link": ["Initech", "Umbrella"]}, repairs=2, now=_now(),
        )  # fmt: skip
    [job] = await queue.claim("worker-1", 1)
    message = (
        f"FreshBooks client 7 matches 2 Accounts ({FIRST}, {SECOND}); link one by setting "
        "Account.FreshBooks_Client_Id__c, or make the names and e-mails differ, then replay"
    )
    failure = Failure("AmbiguousMatchError", message)
    await queue.settle("worker-1", [Settlement(job, "dead", 0.0, failure=failure)])
    [dead] = await queue.dead_letters()
    return dead.id


async def test_settle_an_ambiguous_match_then_read_audit_configuration_and_overview(
    dashboard: str, store: AsyncEngine, page: Any, shots: Path
) -> None:
    from playwright.async_api import expect  # noqa: PLC0415 - dev only

    queue = JobQueue(store, clock=_now)
    letter = await _seed(store, queue)
    await page.goto(f"{dashboard}/matches")
    await log_in(page)
    await expect(page.locator("h1")).to_have_text("Ambiguous matches")
    await page.click(f"a[href='/matches/{letter}']")
    await expect(page.locator("#record-key")).to_have_text("freshbooks/client/7")
    await page.screenshot(path=str(shots / "ambiguous-match.png"), full_page=True)
    await page.click(f"#pick-{SECOND}")
    await expect(page.locator("h1")).to_have_text("Ambiguous matches")
    await expect(page.locator("p.empty")).to_contain_text("No ambiguous matches")

    await page.click("nav >> text=Audit log")
    await expect(page.locator("#audit")).to_contain_text("match.resolve")
    await page.select_option("select[name=kind]", "match")
    await page.click("form.filters button[type=submit]")
    await expect(page.locator("#audit tbody tr")).to_have_count(1)
    await page.screenshot(path=str(shots / "audit.png"), full_page=True)

    await page.click("nav >> text=Configuration")
    await expect(page.locator("#flow-clients")).to_contain_text("review")
    await expect(page.locator("#no-versions")).to_be_visible()
    await page.screenshot(path=str(shots / "configuration.png"), full_page=True)

    await page.click("nav >> text=Overview")
    await expect(page.locator("#listeners")).to_contain_text("web-1:4242")
    await expect(page.locator("#drift")).to_contain_text("Account without a link: 2")
    await page.locator("#listeners").scroll_into_view_if_needed()
    await page.screenshot(path=str(shots / "operations.png"), full_page=True)
    [job] = await queue.jobs(status=JobStatus.PENDING)
    assert job.key == "freshbooks/client/7"
    assert {"match": SECOND, "by": "ana"} in job.hints
