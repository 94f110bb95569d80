"""Evaluate alert rules against the store: open an alert when a rule fires, resolve it after.

Each rule's alert kind is its name. An alert opens once per incident (the store refuses a second
open one of the same kind and connection) and resolving it records one recovery notice, so
delivery sends exactly one message when a problem starts and one when it ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from freshforce.alerting.rules import AlertRule, RuleKind
from freshforce.assist.traffic import traffic_findings
from freshforce.store.alert_measures import (
    dead_letters_since,
    failed_attempts_since,
    open_conflict_count,
    seconds_since_last_webhook,
)
from freshforce.store.alerts import open_alert_connections, raise_alert, resolve_alerts
from freshforce.store.connections import list_connections
from freshforce.store.drift import last_reconciles
from freshforce.store.listeners import unheld_streams
from freshforce.store.overview import oldest_pending_age

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["AlertChanges", "evaluate_alerts", "notice_kind"]


@dataclass
class AlertChanges:
    """What one evaluation changed: the alerts it opened and the recovery notices it recorded."""

    opened: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class _Firing:
    """A rule firing, for one connection (connection rules) or for the install (``None``)."""

    connection_id: str | None
    message: str


def notice_kind(rule: AlertRule) -> str:
    """Return the kind of the notice that says ``rule``'s alert is over."""
    return f"{rule.name}_resolved"


async def evaluate_alerts(
    engine: AsyncEngine, clock: Callable[[], datetime], rules: Sequence[AlertRule]
) -> AlertChanges:
    """Measure every rule once; open the alerts that fire and resolve the ones that stopped."""
    changes = AlertChanges()
    for rule in rules:
        async with engine.begin() as db:
            now = clock()
            firing = await _measure(db, rule, now)
            await _apply(db, rule, firing, now, changes)
    return changes


async def _apply(
    db: AsyncConnection,
    rule: AlertRule,
    firing: list[_Firing],
    now: datetime,
    changes: AlertChanges,
) -> None:
    for fire in firing:
        opened = await raise_alert(
            db,
            kind=rule.name,
            message=fire.message,
            now=now,
            severity=rule.severity,
            connection_id=fire.connection_id,
        )
        changes.opened += [opened] if opened is not None else []
    still = {f.connection_id for f in firing}
    for connection_id in await open_alert_connections(db, rule.name) - still:
        notice = await resolve_alerts(
            db,
            kind=rule.name,
            connection_id=connection_id,
            notice_kind=notice_kind(rule),
            message=f"{rule.name} is back to normal",
            now=now,
        )
        changes.resolved += [notice] if notice is not None else []


async def _measure(db: AsyncConnection, rule: AlertRule, now: datetime) -> list[_Firing]:
    if rule.kind in {RuleKind.VOLUME, RuleKind.WEBHOOK_SILENCE}:
        found = await traffic_findings(db, rule.kind.value, now, factor=max(rule.above, 1.5))
        return [_Firing(None, "\n".join(found))] if found else []
    if rule.kind is RuleKind.CONNECTION_UNHEALTHY:
        return [
            _Firing(
                c.id, f"{c.system} connection {c.id} is {c.status.value}{_reason(c.status_reason)}"
            )
            for c in await list_connections(db)
            if c.status.value != "active"
        ]
    if rule.kind is RuleKind.STREAM_UNHELD:
        by_connection: dict[str, list[str]] = {}
        for unheld in await unheld_streams(db, rule.above):
            by_connection.setdefault(unheld.connection_id, []).append(
                f"{unheld.stream} for {unheld.seconds:.0f} s"
            )
        return [
            _Firing(
                connection,
                f"no listener holds {', '.join(streams)} of connection {connection} "
                f"(alert above {rule.above:g} s; is `freshforce listen` or `run` up?)",
            )
            for connection, streams in sorted(by_connection.items())
        ]
    value, what = await _value(db, rule)
    if value is None or value <= rule.above:
        return []
    return [_Firing(None, f"{what} (alert above {rule.above:g})")]


async def _value(db: AsyncConnection, rule: AlertRule) -> tuple[float | None, str]:
    window = f"in the last {rule.window_seconds:g} s"
    match rule.kind:
        case RuleKind.DEAD_LETTERS:
            count = await dead_letters_since(db, rule.window_seconds)
            return count, f"{count} dead letters {window}"
        case RuleKind.FAILED_ATTEMPTS:
            count = await failed_attempts_since(db, rule.window_seconds)
            return count, f"{count} failed job attempts {window}"
        case RuleKind.OLDEST_PENDING:
            age = await oldest_pending_age(db)
            return age, f"the oldest waiting job has waited {age or 0:.0f} s"
        case RuleKind.DRIFT:
            runs = [r for r in await last_reconciles(db) if r.get("total")]
            found = sum(int(r["total"]) for r in runs)
            where = ", ".join(f"{r['flow']} ({r['tenant']}): {r['total']}" for r in runs)
            return found, f"the last reconcile found {found} differences ({where})"
        case RuleKind.WEBHOOK_AGE:
            quiet = await seconds_since_last_webhook(db)
            return quiet, f"no webhook received for {quiet or 0:.0f} s"
        case _:
            count = await open_conflict_count(db)
            return count, f"{count} conflicts wait for review"


def _reason(reason: str | None) -> str:
    return f": {reason}" if reason else ""
