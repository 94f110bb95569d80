"""Helpers of the dashboard tests: a settable clock, logging in, making dead letters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from freshforce.engine.queue import JobQueue
from freshforce.web.passwords import hash_password

PASSWORD = "correct horse battery"
PASSWORD_HASH = hash_password(PASSWORD)  # argon2 is slow on purpose: hash once per test run


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def login(
    client: httpx.AsyncClient, username: str, password: str = PASSWORD
) -> httpx.Response:
    """Log in through the form, as a browser does: fetch it, echo its CSRF cookie."""
    form = await client.get("/login")
    token = form.cookies.get("ff_login_csrf") or client.cookies.get("ff_login_csrf")
    return await client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": "/"},
    )


async def csrf(client: httpx.AsyncClient) -> str:
    """Return the logged-in session's CSRF token."""
    answer = await client.get("/api/me")
    assert answer.status_code == 200, answer.text
    return str(answer.json()["csrf_token"])


async def bury_one(
    queue: JobQueue, flow: str = "invoices", key: str = "fb:inv:1", hints: tuple[str, ...] = ()
) -> int:
    """Make a dead letter the way the worker does: enqueue, claim, bury. Return its id."""
    async with queue.engine.begin() as conn:
        await queue.enqueue(conn, flow, key, list(hints) or ["h1"])
    [job] = await queue.claim("w1", 1)
    letter = await queue.bury(
        job,
        "w1",
        started_at=queue.clock(),
        error_class="PermanentError",
        error_message="Amount: not a number",
    )
    assert letter is not None
    return letter
