"""The overview's operations panels: Salesforce API budget, listeners, drift from reconcile.

- Budget: the figures of every org this process's governor has heard from (``freshforce run``
  passes its runtime; a separate ``freshforce web`` has none and says so), with a forecast: the
  pace since the oldest sample of the last hour, the calls a full 24 hours at that pace would use,
  and when the remaining calls would run out before the 24 h mark.
- Listeners: each stream's lease holder (a lapsed lease shows as nobody), its cursor position
  (a poll watermark or a CDC replay id) and the newest event per system and source.
- Drift: the newest reconcile result per flow and tenant (store/drift.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from freshforce.errors import ConfigError
from freshforce.intake.stream import Cursor
from freshforce.store.drift import last_reconciles
from freshforce.store.listeners import last_events, stream_rows
from freshforce.web.budget import BudgetHistory, forecast
from freshforce.web.views import plain

if TYPE_CHECKING:
    from freshforce.connectors.salesforce.governor import BudgetSnapshot
    from freshforce.web.deps import WebDeps

__all__ = ["budget_view", "drift_view", "listeners_view", "operations_view"]

# Any: JSON bound for a template or an API answer.
Json = dict[str, Any]


def _budget(snapshot: BudgetSnapshot, history: BudgetHistory, now: datetime) -> Json:
    at = snapshot.observed_at or now
    since = history.oldest_within(snapshot.org_id, now)
    history.add(snapshot.org_id, at, snapshot.used)
    return {
        "org_id": snapshot.org_id,
        "used": snapshot.used,
        "max": snapshot.max_calls,
        "remaining": snapshot.remaining,
        "reserve": snapshot.reserve,
        "used_percent": round(100 * snapshot.used / snapshot.max_calls, 1),
        "observed_at": plain(snapshot.observed_at),
        "deferred": sum(snapshot.deferred.values()),
        "forecast": forecast(snapshot.used, snapshot.max_calls, at, since),
    }


def budget_view(deps: WebDeps) -> Json:
    """Return each known org's budget and forecast; ``known`` is False without a runtime."""
    runtime = deps.runtime
    if runtime is None:
        return {"known": False, "orgs": []}
    governor = runtime.governor
    now = deps.clock()
    orgs = [_budget(governor.snapshot(o), deps.budget, now) for o in governor.org_ids()]
    return {"known": True, "orgs": orgs}


def _position(text: str | None, where: str) -> str | None:
    if text is None:
        return None
    try:
        return Cursor.load(text, where=where).position
    except ConfigError:
        return "(unreadable cursor)"


async def listeners_view(deps: WebDeps) -> Json:
    """Return every stream's holder and position, and the newest event per system and source."""
    async with deps.engine.connect() as conn:
        rows = await stream_rows(conn)
        newest = await last_events(conn)
    streams = [
        {
            "connection_id": r.connection_id,
            "stream": r.stream,
            "kind": "cdc" if "/cdc/" in f"/{r.stream}/" else "poll",
            "holder": r.holder,
            "lease_expires_at": plain(r.lease_expires_at),
            "position": _position(r.cursor, f"{r.connection_id}/{r.stream}"),
            "cursor_updated_at": plain(r.cursor_updated_at),
        }
        for r in rows
    ]
    events = [
        {"system": e.system, "source": e.source, "at": plain(e.received_at), "count": e.count}
        for e in newest
    ]
    return {"streams": streams, "last_events": events}


async def drift_view(deps: WebDeps) -> list[Json]:
    """Return the newest reconcile result per flow and tenant."""
    async with deps.engine.connect() as conn:
        runs = await last_reconciles(conn)
    return [{k: plain(v) for k, v in run.items()} for run in runs]


async def operations_view(deps: WebDeps) -> Json:
    """Return the budget, listeners and drift panels of the overview."""
    return {
        "budget": budget_view(deps),
        "listeners": await listeners_view(deps),
        "drift": await drift_view(deps),
    }
