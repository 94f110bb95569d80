"""The SQL of the audit log: who did what to which target, newest first when read back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from freshforce.store.schema import audit_log

__all__ = ["AuditEntry", "audit_actions", "list_audit", "record_audit"]


@dataclass(frozen=True)
class AuditEntry:
    """One ``audit_log`` row."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    detail: dict[str, Any]  # Any: JSON read back from the store


async def record_audit(
    conn: AsyncConnection,
    *,
    actor: str,
    action: str,
    target: str | None,
    now: datetime,
    detail: dict[str, Any] | None = None,  # Any: JSON written as given
) -> int:
    """Append one audit row in the caller's transaction; return its id."""
    values = {
        "at": now,
        "actor": actor,
        "action": action,
        "target": target,
        "detail": detail or {},
    }
    result = await conn.execute(sa.insert(audit_log).values(values).returning(audit_log.c.id))
    return int(result.scalar_one())


async def list_audit(
    conn: AsyncConnection,
    *,
    actor: str | None = None,
    action: str | None = None,
    kind: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 200,
) -> list[AuditEntry]:
    """Return audit rows, newest first, filtered.

    ``actor`` and ``action`` match exactly; ``kind`` is an action's first part (``dead_letter``
    matches ``dead_letter.replay``); ``target`` a part of the target; ``since`` (inclusive) and
    ``until`` (exclusive) bound the time.
    """
    query = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if actor is not None:
        query = query.where(audit_log.c.actor == actor)
    if action is not None:
        query = query.where(audit_log.c.action == action)
    if kind is not None:
        query = query.where(audit_log.c.action.startswith(f"{kind}.", autoescape=True))
    if target is not None:
        query = query.where(audit_log.c.target.contains(target, autoescape=True))
    if since is not None:
        query = query.where(audit_log.c.at >= since)
    if until is not None:
        query = query.where(audit_log.c.at < until)
    return [
        AuditEntry(
            id=r.id,
            at=r.at,
            actor=r.actor,
            action=r.action,
            target=r.target,
            detail=dict(r.detail or {}),
        )
        for r in await conn.execute(query)
    ]


async def audit_actions(conn: AsyncConnection) -> list[str]:
    """Return every action the log holds, sorted (for a filter's choices)."""
    query = sa.select(audit_log.c.action).distinct().order_by(audit_log.c.action)
    return [str(a) for a in (await conn.execute(query)).scalars()]
