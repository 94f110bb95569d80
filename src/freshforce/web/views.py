"""What the pages and the API show, read from the store into plain values.

Each function returns JSON-ready data; the page templates and the API answers share it, so the
two never disagree. No token or password hash is ever part of it.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from freshforce.store.alert_measures import open_conflict_count
from freshforce.store.alerts import list_alerts
from freshforce.store.charts import minute_series
from freshforce.store.connections import ConnectionInfo, list_connections
from freshforce.store.dead_letters import DeadLetter
from freshforce.store.overview import (
    done_latency,
    oldest_pending_age,
    open_dead_letter_count,
    queue_depth,
    search_dead_letters,
)
from freshforce.web.deps import WebDeps

__all__ = [
    "alert_rules_view",
    "alerts_view",
    "connections_view",
    "dead_letters_view",
    "letter_view",
    "overview",
    "plain",
    "pretty_json",
    "when",
]

# Any: every value below is JSON bound for a template or an API answer.
Json = dict[str, Any]
_EXPIRING_SOON = timedelta(hours=1)


def plain(value: object) -> Any:  # noqa: ANN401 - JSON-ready value of any shape
    """Turn dataclass fields into JSON values: datetimes as ISO text, enums as their value."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def when(value: str | None) -> str:
    """Show an ISO timestamp to a person: ``2026-01-01 12:00:00 UTC``; empty for None."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value).astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def pretty_json(value: object) -> str:
    """Indent JSON for a person to read and edit."""
    return json.dumps(value, indent=2, sort_keys=True)


def letter_view(letter: DeadLetter) -> Json:
    """Return a dead letter as JSON."""
    return {k: plain(v) for k, v in asdict(letter).items()}


def _token_health(info: ConnectionInfo, now: datetime) -> str:
    if info.status.value != "active":
        return info.status.value
    if info.token_expires_at is None:
        # Salesforce states no expiry (the org's session timeout decides); the engine refreshes
        # on the first 401 and pauses the connection if that fails, so active means usable.
        return "ok"
    if info.token_expires_at <= now:
        return "expired"
    return "expiring" if info.token_expires_at - now < _EXPIRING_SOON else "ok"


def _connection(info: ConnectionInfo, now: datetime) -> Json:
    return {
        "id": info.id,
        "system": info.system,
        "tenant": info.tenant,
        "status": info.status.value,
        "health": _token_health(info, now),
        "token_expires_at": plain(info.token_expires_at),
        "token_refreshed_at": plain(info.token_refreshed_at),
        "last_error": info.status_reason,
        "remote_account": info.remote_account,
        "instance_url": info.instance_url,
        "scopes": info.scopes,
        "updated_at": plain(info.updated_at),
    }


async def connections_view(deps: WebDeps) -> list[Json]:
    """Every connection with its health, never its tokens."""
    async with deps.engine.connect() as conn:
        infos = await list_connections(conn)
    now = deps.clock()
    return [_connection(info, now) for info in infos]


async def alerts_view(deps: WebDeps, state: str = "open") -> list[Json]:
    """Alerts, newest first: ``open``, ``resolved`` or ``all``."""
    async with deps.engine.connect() as conn:
        found = await list_alerts(conn)
    chosen = [
        a for a in reversed(found) if state == "all" or (a.resolved_at is None) == (state == "open")
    ]
    return [{k: plain(v) for k, v in asdict(a).items()} for a in chosen]


def alert_rules_view(deps: WebDeps) -> Json:
    """Return the alert rules in force and the channels alerts go to (by name only)."""
    return {
        "rules": [{k: plain(v) for k, v in asdict(rule).items()} for rule in deps.alert_rules],
        "channels": list(deps.alert_channels),
    }


async def dead_letters_view(
    deps: WebDeps,
    *,
    flow: str | None = None,
    error_class: str | None = None,
    key: str | None = None,
    include_replayed: bool = False,
    limit: int = 100,
) -> list[Json]:
    """Dead letters matching the filters, newest first."""
    async with deps.engine.connect() as conn:
        letters = await search_dead_letters(
            conn,
            flow=flow,
            error_class=error_class,
            key=key,
            include_replayed=include_replayed,
            limit=limit,
        )
    return [letter_view(letter) for letter in letters]


async def overview(deps: WebDeps) -> Json:
    """Queue depth per status and flow, oldest waiting job, dead letters, connections, alerts.

    ``latency_last_hour`` gives per flow the jobs done in the last hour and their event-to-written
    latency (p50, p99 in seconds); ``conflicts_open`` counts conflicts waiting for a person.
    ``per_minute`` holds the last hour, oldest minute first: attempts done and failed, and the
    jobs waiting or running at the end of each minute.
    """
    now = deps.clock()
    async with deps.engine.connect() as conn:
        depth = await queue_depth(conn)
        oldest_age = await oldest_pending_age(conn)
        dead = await open_dead_letter_count(conn)
        conflicts_open = await open_conflict_count(conn)
        latency = await done_latency(conn)
        series = await minute_series(conn)
    by_status: dict[str, int] = dict.fromkeys(("pending", "running", "done", "dead"), 0)
    by_flow: dict[str, dict[str, int]] = {}
    for row in depth:
        by_status[row.status] = by_status.get(row.status, 0) + row.count
        by_flow.setdefault(row.flow, dict.fromkeys(by_status, 0))[row.status] = row.count
    from freshforce.web.operations import operations_view  # noqa: PLC0415 - it imports this module

    return {
        **await operations_view(deps),
        "now": now.isoformat(),
        "jobs_by_status": by_status,
        "jobs_by_flow": by_flow,
        "oldest_pending_age_seconds": oldest_age,
        "dead_letters_open": dead,
        "conflicts_open": conflicts_open,
        "latency_last_hour": [plain(asdict(row)) for row in latency],
        "connections": await connections_view(deps),
        "alerts_open": await alerts_view(deps, "open"),
        "per_minute": {
            "done": list(series.done),
            "failed": list(series.failed),
            "queue_depth": list(series.depth),
        },
    }
