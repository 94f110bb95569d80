"""Volume and webhook-silence alert rules on stored change events (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.alerting import AlertRule, RuleKind, evaluate_alerts
from freshforce.assist.traffic import missed_finding, silence_finding, volume_finding
from freshforce.store.alerts import list_alerts
from freshforce.store.schema import events

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)  # a Saturday
RULES = (
    AlertRule("volume", RuleKind.VOLUME, above=3, severity="warning"),
    AlertRule("silence", RuleKind.WEBHOOK_SILENCE, above=5, severity="warning"),
)


async def _events(engine: AsyncEngine, source: str, ats: list[datetime], first: int = 0) -> None:
    rows = [
        {"source": source, "system": "freshbooks", "object": "client", "record_id": str(first + n),
         "payload": {}, "received_at": at}
        for n, at in enumerate(ats)
    ]  # fmt: skip
    async with engine.begin() as db:
        await db.execute(sa.insert(events), rows)


def _spread(end: datetime, count: int) -> list[datetime]:
    """``count`` times spread over the hour before ``end``."""
    return [end - timedelta(seconds=3600 * (n + 0.5) / count) for n in range(count)]


async def _open(engine: AsyncEngine) -> dict[str, str]:
    async with engine.connect() as db:
        return {a.kind: a.message for a in await list_alerts(db) if a.resolved_at is None}


async def test_a_busy_hour_and_a_silent_webhook_raise_one_warning_each(
    store_engine: AsyncEngine,
) -> None:
    for week in (1, 2, 3):  # the same Saturday hour brought 20 webhooks a week
        await _events(
            store_engine, "webhook", _spread(NOW - timedelta(days=7 * week), 20), week * 100
        )
    # This hour: 80 records changed, all found by the poller, the last webhook 40 minutes ago.
    await _events(store_engine, "webhook", [NOW - timedelta(minutes=40)], 900)
    await _events(store_engine, "webhook", [NOW + timedelta(hours=1)], 950)  # later: not seen
    polled = [NOW - timedelta(minutes=6 + n / 2) for n in range(79)]
    await _events(store_engine, "poll", polled, 1000)

    await evaluate_alerts(store_engine, lambda: NOW, RULES)
    found = await _open(store_engine)
    assert found["volume"] == (
        "80 freshbooks changes in the last hour, 4.0x the usual 20 for Saturdays 08:00-09:00 "
        "(median of 3 weeks)"
    )
    silence, missed = found["silence"].split("\n")
    assert silence == (
        "no freshbooks webhook for 40 minutes; Saturdays 08:00-09:00 usually brings 20 "
        "(one every 3.0 minutes)"
    )
    assert missed.startswith("the poller found ")
    assert "changes no webhook delivered (client 1000, client 1001, client 1002 ...)" in missed


async def test_usual_traffic_raises_nothing(store_engine: AsyncEngine) -> None:
    for week in (0, 1, 2, 3):
        await _events(
            store_engine, "webhook", _spread(NOW - timedelta(days=7 * week), 20), week * 100
        )
    await evaluate_alerts(store_engine, lambda: NOW, RULES)
    assert await _open(store_engine) == {}


def test_the_findings_explain_themselves() -> None:
    assert volume_finding("freshbooks", NOW, 5, [30, 28, 0, 35], 3.0) == (
        "a drop: 5 freshbooks changes in the last hour against the usual 30 for "
        "Saturdays 08:00-09:00 (median of 3 weeks)"
    )
    assert volume_finding("freshbooks", NOW, 2, [3, 3], 3.0) is None  # a quiet hour: no drop
    assert volume_finding("freshbooks", NOW, 99, [10], 3.0) is None  # one week: no baseline
    last = NOW - timedelta(minutes=9)
    assert silence_finding("freshbooks", NOW, last, [1, 1], 5.0) is None  # hourly: 9 min is fine
    assert missed_finding("salesforce", []) is None
