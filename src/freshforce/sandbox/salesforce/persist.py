"""Keeping a Salesforce sandbox org in a JSON file across restarts (``--state-file``).

What is kept: every record (recycle bin included), the id counters, and the issued refresh
tokens and sessions, so a connection made with ``freshforce connect`` still works after a
restart. What is not: the CDC change log (replay ids start again), custom fields added through
the admin API, and the API allocation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from freshforce.sandbox.core.faults import ASGIApp, Receive, Scope, Send
from freshforce.sandbox.salesforce.sessions import Session, Sessions
from freshforce.sandbox.salesforce.state import SalesforceState

__all__ = ["STATE_VERSION", "SaveAfterWrites", "load_state", "save_state"]

STATE_VERSION = 1
# Any: the file is JSON of our own shape, checked field by field on the way in.
JSON = dict[str, Any]


def save_state(state: SalesforceState, sessions: Sessions, path: Path) -> None:
    """Write the org to ``path`` atomically (a sibling file, then a rename over it)."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(_snapshot(state, sessions)), encoding="utf-8")
    temporary.replace(path)


def load_state(state: SalesforceState, sessions: Sessions, path: Path) -> bool:
    """Restore from ``path`` if it exists; raise ValueError naming the file if unreadable."""
    if not path.exists():
        return False
    try:
        _restore(state, sessions, json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        msg = f"{path}: not a Salesforce sandbox state file ({exc})"
        raise ValueError(msg) from exc
    return True


def _snapshot(state: SalesforceState, sessions: Sessions) -> JSON:
    tables = {
        spec.name: dict(state.tables.table(spec.name))
        for spec in state.catalog
        if state.tables.table(spec.name)
    }
    return {
        "version": STATE_VERSION,
        "org_id": state.org_id,
        "id_counters": dict(state.minter._counters),  # noqa: SLF001 - the minter's own state
        "tables": tables,
        "deleted_at": dict(state.tables.deleted_at),
        "cascaded": {k: list(v) for k, v in state.tables.cascaded.items()},
        "refresh_tokens": {k: list(v) for k, v in sessions._refresh.items()},  # noqa: SLF001
        "sessions": [_session_json(s) for s in sessions._sessions.values()],  # noqa: SLF001
    }


def _restore(state: SalesforceState, sessions: Sessions, data: JSON) -> None:
    if data.get("version") != STATE_VERSION:
        msg = f"state version {data.get('version')!r} is not {STATE_VERSION}"
        raise ValueError(msg)
    if data["org_id"] != state.org_id:
        msg = f"the file is of org {data['org_id']}, this sandbox is org {state.org_id}"
        raise ValueError(msg)
    state.tables.clear()
    for object_name, rows in data["tables"].items():
        spec = state.describe(object_name)
        for record_id, record in rows.items():
            state.tables.put(spec, record_id, dict(record))
    state.tables.deleted_at.update(data["deleted_at"])
    state.tables.cascaded.update({k: tuple(v) for k, v in data["cascaded"].items()})
    state.minter._counters = {str(k): int(v) for k, v in data["id_counters"].items()}  # noqa: SLF001
    sessions._refresh = {k: (v[0], v[1], v[2]) for k, v in data["refresh_tokens"].items()}  # noqa: SLF001
    restored = [_session_from(item) for item in data["sessions"]]
    sessions._sessions = {s.access_token: s for s in restored}  # noqa: SLF001


def _session_json(session: Session) -> JSON:
    found = asdict(session)
    found["issued_at"] = session.issued_at.isoformat()
    found["expires_at"] = session.expires_at.isoformat() if session.expires_at else None
    return found


def _session_from(item: JSON) -> Session:
    expires_at = item.get("expires_at")
    return Session(
        access_token=str(item["access_token"]),
        user_id=str(item["user_id"]),
        client_id=str(item["client_id"]),
        issued_at=datetime.fromisoformat(item["issued_at"]),
        scope=str(item["scope"]),
        refresh_token=item.get("refresh_token"),
        expired=bool(item.get("expired", False)),
        expires_at=datetime.fromisoformat(expires_at) if expires_at else None,
    )


class SaveAfterWrites:
    """ASGI middleware: call ``save`` after every request that may have changed the org."""

    def __init__(self, app: ASGIApp, save: Callable[[], None]) -> None:
        self._app = app
        self._save = save

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._app(scope, receive, send)
        finally:
            if scope["type"] == "http" and scope["method"] not in {"GET", "HEAD", "OPTIONS"}:
                self._save()
