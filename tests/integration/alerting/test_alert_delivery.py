"""Alert delivery to a local Slack-style receiver (over ASGI) and to aiosmtpd (over a socket)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email import message_from_string
from email.policy import default

import httpx
import pytest
from alerting_support import Receiver, bury_one, smtp_server
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs

from freshforce.alerting import (
    AlertRule,
    AlertTimer,
    EmailChannel,
    RuleKind,
    SlackChannel,
    channels_from_settings,
    deliver_alerts,
    evaluate_alerts,
)
from freshforce.engine.queue import JobQueue
from freshforce.errors import ConfigError
from freshforce.settings import Settings
from freshforce.store.alerts import list_alerts
from freshforce.store.overview import discard_dead_letter
from freshforce.store.users import Role, add_user
from freshforce.web import create_app
from freshforce.web.passwords import hash_password

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
HOOK = "https://hooks.example/services/T000/B000/very-secret-token"
PASSWORD = "correct horse battery"
PASSWORD_HASH = hash_password(PASSWORD)
RULES = (AlertRule("dead", RuleKind.DEAD_LETTERS, above=0, window_seconds=600),)


def _clock() -> datetime:
    return NOW


def _slack(receiver: Receiver) -> SlackChannel:
    return SlackChannel(SecretStr(HOOK), transport=httpx.ASGITransport(app=receiver.app()))


async def _dead_letter_incident(engine: AsyncEngine) -> int:
    """Open the dead-letter alert; return the letter's id."""
    queue = JobQueue(engine, clock=_clock)
    job_id = await bury_one(queue, "fb:inv:1")
    [letter] = [d for d in await queue.dead_letters() if d.job_id == job_id]
    assert (await evaluate_alerts(engine, _clock, RULES)).opened
    return letter.id


async def _end_incident(engine: AsyncEngine, letter_id: int) -> None:
    async with engine.begin() as db:
        assert await discard_dead_letter(db, letter_id) is not None
    assert (await evaluate_alerts(engine, _clock, RULES)).resolved


async def test_one_message_when_it_opens_and_one_when_it_resolves(
    store_engine: AsyncEngine,
) -> None:
    receiver = Receiver()
    with smtp_server() as (port, mailbox):
        email = EmailChannel(
            "127.0.0.1", port, "freshforce@example.com", ["ops@example.com"], security="none"
        )
        channels = [_slack(receiver), email]
        letter = await _dead_letter_incident(store_engine)
        await evaluate_alerts(store_engine, _clock, RULES)  # still open: nothing new
        first = await deliver_alerts(
            store_engine, _clock, channels, dashboard_url="https://sync.example"
        )
        assert (len(first.sent), first.retry) == (1, [])
        assert (await deliver_alerts(store_engine, _clock, channels)).sent == []
        await _end_incident(store_engine, letter)
        second = await deliver_alerts(store_engine, _clock, channels)
        assert len(second.sent) == 1
        assert (await deliver_alerts(store_engine, _clock, channels)).sent == []
    texts = [post["text"] for post in receiver.posts]
    assert len(texts) == 2
    assert texts[0].startswith("[freshforce] ERROR dead: 1 dead letters in the last 600 s")
    assert "https://sync.example/alerts" in texts[0]
    assert texts[1].startswith("[freshforce] RESOLVED dead_resolved: dead is back to normal")
    assert receiver.paths == ["T000/B000/very-secret-token"] * 2
    assert [(sender, to) for sender, to, _ in mailbox.messages] == [
        ("freshforce@example.com", ["ops@example.com"])
    ] * 2
    subjects = [
        str(message_from_string(text, policy=default)["Subject"]).strip()
        for *_, text in mailbox.messages
    ]
    assert subjects[0].startswith("[freshforce] ERROR dead: 1 dead letters")
    assert subjects[1].startswith("[freshforce] RESOLVED dead_resolved")
    for text in [*texts, *(m[2] for m in mailbox.messages)]:
        assert "very-secret-token" not in text


async def test_failed_delivery_is_retried_and_never_shows_the_webhook_address(
    store_engine: AsyncEngine,
) -> None:
    receiver = Receiver(status=500)
    channels = [_slack(receiver)]
    await _dead_letter_incident(store_engine)
    with capture_logs() as logs:
        failed = await deliver_alerts(store_engine, _clock, channels)
    assert (failed.sent, len(failed.retry)) == ([], 1)
    [event] = [e for e in logs if e["event"] == "alert_delivery_failed"]
    assert event["error"] == "slack webhook answered 500"
    assert "very-secret-token" not in repr(logs)
    async with store_engine.connect() as db:
        [alert] = await list_alerts(db)
    receiver.status = 200
    assert (await deliver_alerts(store_engine, _clock, channels)).sent == [alert.id]
    assert len(receiver.posts) == 1


async def test_unreachable_smtp_server_is_a_delivery_failure(store_engine: AsyncEngine) -> None:
    with smtp_server() as (port, _):
        pass  # stopped: nothing listens on the port any more
    email = EmailChannel("127.0.0.1", port, "ff@example.com", ["ops@example.com"], security="none")
    await _dead_letter_incident(store_engine)
    with capture_logs() as logs:
        outcome = await deliver_alerts(store_engine, _clock, [email])
    assert len(outcome.retry) == 1
    [event] = [e for e in logs if e["event"] == "alert_delivery_failed"]
    assert event["error"].startswith(f"smtp 127.0.0.1:{port}: ")


async def test_timer_round_holds_the_lease_and_delivers(store_engine: AsyncEngine) -> None:
    receiver = Receiver()
    await bury_one(JobQueue(store_engine, clock=_clock), "fb:inv:9")
    timer = AlertTimer(store_engine, _clock, RULES, [_slack(receiver)], 60.0, holder="a")
    other = AlertTimer(store_engine, _clock, RULES, [_slack(receiver)], 60.0, holder="b")
    outcome = await timer.round()
    assert outcome is not None
    assert len(outcome[0].opened) == 1
    assert len(outcome[1].sent) == 1
    assert await other.round() is None  # the lease is a's
    assert len(receiver.posts) == 1


def test_channels_from_settings(tmp_path) -> None:
    assert channels_from_settings(Settings(data_dir=tmp_path)) == []
    settings = Settings(
        data_dir=tmp_path,
        alert_slack_webhook_url=HOOK,
        alert_smtp_host="smtp.example",
        alert_smtp_from="ff@example.com",
        alert_smtp_to="a@example.com, b@example.com",
        alert_smtp_password="pw-secret",
        alert_smtp_username="ff",
    )
    slack, email = channels_from_settings(settings)
    assert isinstance(slack, SlackChannel)
    assert isinstance(email, EmailChannel)
    assert email.recipients == ("a@example.com", "b@example.com")
    assert "pw-secret" not in repr(email)
    assert "very-secret-token" not in repr(slack)
    with pytest.raises(ConfigError, match="alert_smtp_from and alert_smtp_to"):
        channels_from_settings(Settings(data_dir=tmp_path, alert_smtp_host="smtp.example"))


async def test_the_dashboard_runs_the_timer_and_shows_the_rules(
    store_engine: AsyncEngine, tmp_path
) -> None:
    receiver = Receiver()
    await bury_one(JobQueue(store_engine, clock=_clock), "fb:inv:5")
    rules = tmp_path / "alerts.yaml"
    rules.write_text("rules:\n  - {name: dead, kind: dead_letters, above: 0}\n", encoding="utf-8")
    settings = Settings(
        data_dir=tmp_path,
        web_session_key="k" * 40,
        alerts_file=rules,
        alert_slack_webhook_url=HOOK,
        alert_interval_seconds=3600,
    )
    transport = httpx.ASGITransport(app=receiver.app())
    app = create_app(store_engine, settings=settings, transport=transport)
    async with app.router.lifespan_context(app):
        for _ in range(600):  # the first round runs at start; wait for it, up to 30 s
            if receiver.posts:
                break
            await asyncio.sleep(0.05)
    assert [p["text"].split(":")[0] for p in receiver.posts] == ["[freshforce] ERROR dead"]
    async with store_engine.begin() as db:
        await add_user(
            db, username="vic", password_hash=PASSWORD_HASH, role=Role.VIEWER, now=_clock()
        )
    client_transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=client_transport, base_url="http://t") as client:
        form = await client.get("/login")
        await client.post(
            "/login",
            data={
                "username": "vic",
                "password": PASSWORD,
                "csrf_token": form.cookies.get("ff_login_csrf"),
                "next": "/",
            },
        )
        config = (await client.get("/api/alerts/rules")).json()
        page = (await client.get("/alerts")).text
    assert config == {
        "rules": [
            {
                "name": "dead",
                "kind": "dead_letters",
                "above": 0.0,
                "window_seconds": 3600.0,
                "severity": "error",
            }
        ],
        "channels": ["slack"],
    }
    assert "sent to: slack" in page
    assert "very-secret-token" not in page
