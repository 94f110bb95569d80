"""A real browser on the dashboard: log in, see the overview, replay a dead letter, read a
record's timeline and settle its conflict.

Drives Debian's chromium (``apt-get install -y chromium``) through Playwright; no browser is
downloaded. Set ``FRESHFORCE_SAVE_SCREENSHOTS=1`` to refresh the pictures in docs/screenshots/.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from browser_support import log_in, pytestmark
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.engine.queue import Failure, JobQueue, JobStatus, Settlement
from freshforce.store.alerts import raise_alert
from freshforce.store.conflicts import Parked, park_conflict
from freshforce.store.connections import NewConnection, Tokens, save_connection
from freshforce.store.crypto import TokenCipher, new_key
from freshforce.store.events import NewEvent, record_events
from freshforce.store.linking import NewLink, create_links
from freshforce.store.scope import Scope
from freshforce.store.writelog import FieldWrite, record_field_writes

__all__ = ["pytestmark"]  # skipped without chromium; on the module's loop


def _now() -> datetime:
    return datetime.now(UTC)


async def _seed(engine: AsyncEngine, queue: JobQueue) -> int:
    async with engine.begin() as conn:
        await queue.enqueue(conn, "payments", "fb:payment:4", ["changed"])
    [job] = await queue.claim("worker-1", 1)
    failure = Failure("PermanentError", "Amount: '12,50' is not a number")
    assert await queue.settle("worker-1", [Settlement(job, "dead", 0.0, failure=failure)]) == {
        job.id: "dead"
    }
    [dead] = [d for d in await queue.dead_letters() if d.job_id == job.id]
    letter = dead.id
    async with engine.begin() as conn:
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


async def test_log_in_see_the_overview_and_replay_a_dead_letter(
    dashboard: str, store: AsyncEngine, page: Any, shots: Path
) -> None:
    from playwright.async_api import expect  # noqa: PLC0415 - dev only

    queue = JobQueue(store, clock=_now)
    letter = await _seed(store, queue)
    await page.goto(f"{dashboard}/")
    await expect(page).to_have_url(f"{dashboard}/login?next=/")
    await log_in(page)
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
    keys = {j.key for j in await queue.jobs(status=JobStatus.PENDING)}
    assert "fb:payment:4" in keys


async def _two_sided_edit(engine: AsyncEngine) -> int:
    """Link client 42, log a write to it and park a conflict on its e-mail; return the conflict."""
    scope = Scope("default", "clients")
    async with engine.begin() as db:
        keys = frozenset({"email:ann@acme.com", "org:acme"})
        [link] = await create_links(db, scope, [NewLink("42", "001000000000042AAA", keys=keys)])
        assert link is not None
        await record_events(
            db,
            [NewEvent("webhook", "freshbooks", "client", "42", {"name": "client.update"})],
            now=_now(),
        )
        write = FieldWrite(
            "salesforce",
            "Account",
            "001000000000042AAA",
            "Name",
            before="Acme",
            after="Acme Corp",
            source_value="Acme Corp",
            link_id=link.id,
            trace=({"transform": "trim", "in": " Acme Corp", "out": "Acme Corp"},),
        )
        await record_field_writes(db, scope, [write])
        parked = Parked(
            link.id,
            "email",
            base_value="ann@acme.com",
            freshbooks_value="ann@acme.io",
            salesforce_value="billing@acme.com",
            freshbooks_changed_by="Ann Smith",
            freshbooks_changed_at=_now(),
            salesforce_changed_by="Sam Rep",
            salesforce_changed_at=_now(),
        )
        conflict = await park_conflict(db, scope, parked)
    return conflict.id


async def test_find_a_timeline_and_settle_its_conflict(
    dashboard: str, store: AsyncEngine, page: Any, shots: Path
) -> None:
    from playwright.async_api import expect  # noqa: PLC0415 - dev only

    queue = JobQueue(store, clock=_now)
    conflict = await _two_sided_edit(store)
    await page.goto(f"{dashboard}/records")
    await log_in(page)
    await expect(page.locator("h1")).to_have_text("Record timeline")
    await page.fill("input[name=q]", "Ann@Acme.com")
    await page.click("form[role=search] button[type=submit]")
    await expect(page.locator("a.fb-link")).to_have_text("42")
    await expect(page.locator(".timeline li.kind-field_write")).to_contain_text(
        "wrote salesforce Account Name"
    )
    await page.screenshot(path=str(shots / "timeline.png"), full_page=True)
    await page.click("nav >> text=Conflicts")
    await page.click(f"a[href='/conflicts/{conflict}?tenant=default']")
    await expect(page.locator("#sf-value")).to_have_text('"billing@acme.com"')
    await page.screenshot(path=str(shots / "conflict.png"), full_page=True)
    await page.click("#take-salesforce")
    await expect(page.locator("#resolution")).to_contain_text("took salesforce")
    keys = {j.key for j in await queue.jobs(status=JobStatus.PENDING)}
    assert any(key.startswith("link/") for key in keys)
