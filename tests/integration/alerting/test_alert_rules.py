"""Alert rules against the store: each fires once per incident and resolves with one notice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alerting_support import bury_one
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.alerting import DEFAULT_RULES, AlertRule, RuleKind, evaluate_alerts, load_rules
from freshforce.engine.queue import JobQueue
from freshforce.errors import ConfigError
from freshforce.store.alerts import list_alerts
from freshforce.store.conflicts import Parked, park_conflict
from freshforce.store.connections import (
    ConnectionStatus,
    NewConnection,
    Tokens,
    save_connection,
    set_status,
)
from freshforce.store.crypto import TokenCipher, new_key
from freshforce.store.drift import record_reconcile
from freshforce.store.events import NewEvent, record_events
from freshforce.store.lease import acquire_lease, release_lease
from freshforce.store.linking import NewLink, create_link
from freshforce.store.schema import cursors, dead_letters, events, jobs, leases
from freshforce.store.scope import Scope

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
RULES = (
    AlertRule("dead", RuleKind.DEAD_LETTERS, above=0, window_seconds=600),
    AlertRule("failing", RuleKind.FAILED_ATTEMPTS, above=1, window_seconds=600),
    AlertRule("lag", RuleKind.OLDEST_PENDING, above=60, severity="warning"),
    AlertRule("conns", RuleKind.CONNECTION_UNHEALTHY),
    AlertRule("review", RuleKind.OPEN_CONFLICTS, above=0, severity="info"),
)


def _clock() -> datetime:
    return NOW


async def _open(engine: AsyncEngine) -> dict[tuple[str, str | None], str]:
    async with engine.connect() as db:
        found = await list_alerts(db)
    return {(a.kind, a.connection_id): a.message for a in found if a.resolved_at is None}


async def test_quiet_store_raises_nothing(store_engine: AsyncEngine) -> None:
    changes = await evaluate_alerts(store_engine, _clock, RULES)
    assert (changes.opened, changes.resolved) == ([], [])
    assert await _open(store_engine) == {}


async def test_each_rule_opens_once_and_resolves_with_one_notice(
    store_engine: AsyncEngine,
) -> None:
    queue = JobQueue(store_engine, clock=_clock)
    await bury_one(queue, "fb:inv:1")
    await bury_one(queue, "fb:inv:2")
    async with store_engine.begin() as db:
        await queue.enqueue(db, "clients", "fb:client:3")
        await db.execute(
            sa.update(jobs)
            .where(jobs.c.key == "fb:client:3")
            .values(created_at=datetime.now(UTC) - timedelta(seconds=300))
        )
        tokens = Tokens(SecretStr("access"), SecretStr("refresh"), NOW + timedelta(hours=1))
        cipher = TokenCipher([SecretStr(new_key())])
        await save_connection(db, cipher, NewConnection("fb-1", "freshbooks", tokens), now=NOW)
        await set_status(db, "fb-1", ConnectionStatus.PAUSED, reason="invalid_grant", now=NOW)
        scope = Scope("default", "clients")
        link = await create_link(db, scope, NewLink("3", "001000000000003AAA"))
        assert link is not None
        await park_conflict(db, scope, Parked(link.id, "email", "a", "b", "c"))
    changes = await evaluate_alerts(store_engine, _clock, RULES)
    assert len(changes.opened) == 5
    opened = await _open(store_engine)
    assert opened == {
        ("dead", None): "2 dead letters in the last 600 s (alert above 0)",
        ("failing", None): "2 failed job attempts in the last 600 s (alert above 1)",
        ("lag", None): opened[("lag", None)],
        ("conns", "fb-1"): "freshbooks connection fb-1 is paused: invalid_grant",
        ("review", None): "1 conflicts wait for review (alert above 0)",
    }
    assert opened[("lag", None)].startswith("the oldest waiting job has waited 3")
    again = await evaluate_alerts(store_engine, _clock, RULES)
    assert (again.opened, again.resolved) == ([], [])  # still open: not repeated

    async with store_engine.begin() as db:
        await db.execute(sa.delete(dead_letters))
        await db.execute(sa.update(jobs).where(jobs.c.status == "pending").values(status="done"))
        await set_status(db, "fb-1", ConnectionStatus.ACTIVE, reason=None, now=NOW)
    changes = await evaluate_alerts(store_engine, _clock, RULES)
    assert len(changes.resolved) == 3
    assert set(await _open(store_engine)) == {("failing", None), ("review", None)}
    async with store_engine.connect() as db:
        notices = [a for a in await list_alerts(db) if a.kind.endswith("_resolved")]
    assert sorted((a.kind, a.connection_id, a.severity) for a in notices) == [
        ("conns_resolved", "fb-1", "info"),
        ("dead_resolved", None, "info"),
        ("lag_resolved", None, "info"),
    ]
    settled = await evaluate_alerts(store_engine, _clock, RULES)
    assert (settled.opened, settled.resolved) == ([], [])


async def test_a_stream_no_listener_holds_alerts_per_connection_until_one_takes_it(
    store_engine: AsyncEngine,
) -> None:
    rule = AlertRule("listener_down", RuleKind.STREAM_UNHELD, above=120)
    long_ago = datetime.now(UTC) - timedelta(seconds=600)
    cdc, poll = "salesforce/cdc/data/AccountChangeEvent", "salesforce/poll/Account/clients"
    async with store_engine.begin() as db:
        for stream in (cdc, poll):
            await db.execute(
                sa.insert(cursors).values(
                    connection_id="sf-1", stream=stream, value="AAA=", updated_at=long_ago
                )
            )
        await db.execute(
            sa.insert(cursors).values(
                connection_id="fb-1", stream="freshbooks/poll/clients", value="1",
                updated_at=datetime.now(UTC),
            )
        )  # fmt: skip
        # The CDC listener died: its lease expired ten minutes ago; the poll lease is held.
        await db.execute(
            sa.insert(leases).values(name=f"sf-1/{cdc}", holder="dead:1", expires_at=long_ago)
        )
        assert await acquire_lease(db, f"sf-1/{poll}", "alive:2", ttl=timedelta(seconds=60))
    changes = await evaluate_alerts(store_engine, _clock, (rule,))
    assert len(changes.opened) == 1
    [(key, message)] = (await _open(store_engine)).items()
    assert key == ("listener_down", "sf-1")
    assert message.startswith(f"no listener holds {cdc} for 6")
    assert "of connection sf-1 (alert above 120 s" in message
    assert poll not in message  # held
    # A recent cursor without a lease (a clean stop a moment ago) is not yet an alert.
    async with store_engine.begin() as db:
        assert await acquire_lease(db, f"sf-1/{cdc}", "new:3", ttl=timedelta(seconds=60))
        await release_lease(db, f"sf-1/{poll}", "alive:2")
        await db.execute(
            sa.update(cursors).where(cursors.c.stream == poll).values(updated_at=datetime.now(UTC))
        )
    changes = await evaluate_alerts(store_engine, _clock, (rule,))
    assert (changes.opened, len(changes.resolved)) == ([], 1)
    assert await _open(store_engine) == {}


def test_rules_file_is_read_and_every_problem_reported(tmp_path: Path) -> None:
    good = tmp_path / "alerts.yaml"
    good.write_text(
        "rules:\n"
        "  - {name: dl, kind: dead_letters, above: 5, window_seconds: 300}\n"
        "  - {name: lag, kind: oldest_pending, above: 900, severity: warning}\n",
        encoding="utf-8",
    )
    assert load_rules(good) == (
        AlertRule("dl", RuleKind.DEAD_LETTERS, above=5, window_seconds=300),
        AlertRule("lag", RuleKind.OLDEST_PENDING, above=900, severity="warning"),
    )
    assert load_rules(None) == DEFAULT_RULES
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "rules:\n"
        "  - name: dl\n"
        "    kind: dead_leters\n"
        "  - name: dl\n"
        "    kind: open_conflicts\n"
        "    above: -1\n"
        "    colour: red\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_rules(bad)
    text = str(caught.value)
    assert "invalid alert rules (3 problems)" in text
    assert f"{bad}:3:11: rules[0].kind: Input should be 'dead_letters'" in text
    assert f"{bad}:6:12: rules[1].above: Input should be greater than or equal to 0" in text
    assert f"{bad}:7:5: rules[1].colour: Extra inputs are not permitted" in text
    with pytest.raises(ConfigError, match="cannot read the alert rules file"):
        load_rules(tmp_path / "missing.yaml")


async def test_drift_and_webhook_age(store_engine: AsyncEngine) -> None:
    rules = (
        AlertRule("drift", RuleKind.DRIFT, above=0, severity="warning"),
        AlertRule("quiet", RuleKind.WEBHOOK_AGE, above=3600),
    )
    changes = await evaluate_alerts(store_engine, _clock, rules)
    assert changes.opened == []  # no reconcile, no webhook ever: nothing to say
    async with store_engine.begin() as db:
        await record_reconcile(
            db, tenant="default", flow="clients", counts={"Account without a link": 2},
            samples={}, repairs=0, now=NOW,
        )  # fmt: skip
        await record_reconcile(
            db, tenant="default", flow="invoices", counts={}, samples={}, repairs=0, now=NOW
        )
        await record_events(db, [NewEvent("webhook", "freshbooks", "client", "1", {})], now=NOW)
        await db.execute(
            sa.update(events).values(received_at=datetime.now(UTC) - timedelta(hours=2))
        )
    changes = await evaluate_alerts(store_engine, _clock, rules)
    assert len(changes.opened) == 2
    opened = await _open(store_engine)
    assert opened[("drift", None)] == (
        "the last reconcile found 2 differences (clients (default): 2) (alert above 0)"
    )
    assert opened[("quiet", None)].startswith("no webhook received for 72")
    async with store_engine.begin() as db:
        await record_reconcile(
            db, tenant="default", flow="clients", counts={}, samples={}, repairs=2, now=NOW
        )
        await record_events(
            db, [NewEvent("webhook", "freshbooks", "client", "1", {})], now=datetime.now(UTC)
        )
    changes = await evaluate_alerts(store_engine, _clock, rules)
    assert (changes.opened, len(changes.resolved)) == ([], 2)
    assert await _open(store_engine) == {}
