"""The write log: every field we wrote, and every echo of our own writes that a job dropped.

``field_writes`` holds one row per field written: before, after, the source value and the
mapping's transform trace, for ``freshforce trace`` and the dashboard's timeline. A dropped echo
is not a write, so it goes to ``events`` as an event of source ``echo`` naming the job and the
fingerprint it matched: the timeline then shows the change notification and, next to it, that
it was ours. Both are written in the engine's commit transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from freshforce.store.dbtime import db_now
from freshforce.store.schema import events, field_writes

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from freshforce.store.scope import Scope

__all__ = ["ECHO_SOURCE", "Echo", "FieldWrite", "record_echoes", "record_field_writes"]

ECHO_SOURCE = "echo"


@dataclass(frozen=True)
class FieldWrite:
    """One field written to ``system``'s record; ``trace`` is the mapping's per-step record."""

    system: str
    object: str
    record_id: str
    field: str
    before: Any  # Any: JSON wire values
    after: Any
    source_value: Any = None
    trace: Sequence[Mapping[str, Any]] = ()
    link_id: int | None = None
    job_id: int | None = None
    at: datetime | None = None  # set by the store: the commit's database time


@dataclass(frozen=True)
class Echo:
    """A change notification recognised as our own write and dropped by job ``job_id``."""

    system: str
    object: str
    record_id: str
    job_id: int
    fingerprint: str
    extra: Mapping[str, Any] = field(default_factory=dict)  # Any: JSON


async def record_field_writes(
    db: AsyncConnection, scope: Scope, writes: Sequence[FieldWrite]
) -> None:
    """Log ``writes`` of ``scope`` in one batched insert."""
    if not writes:
        return
    rows = [
        {
            "tenant": scope.tenant,
            "flow": scope.flow,
            "link_id": w.link_id,
            "job_id": w.job_id,
            "system": w.system,
            "object": w.object,
            "record_id": w.record_id,
            "field": w.field,
            "before": w.before,
            "after": w.after,
            "source_value": w.source_value,
            "trace": [dict(step) for step in w.trace],
        }
        for w in writes
    ]
    statement = sa.insert(field_writes).values(at=db_now(db.dialect.name))
    await db.execute(statement, rows)


async def record_echoes(db: AsyncConnection, scope: Scope, echoes: Sequence[Echo]) -> None:
    """Log dropped echoes as ``events`` rows of source ``echo``."""
    if not echoes:
        return
    rows = [
        {
            "tenant": scope.tenant,
            "source": ECHO_SOURCE,
            "system": e.system,
            "object": e.object,
            "record_id": e.record_id,
            "payload": {
                **e.extra,
                "flow": scope.flow,
                "job_id": e.job_id,
                "fingerprint": e.fingerprint,
            },
        }
        for e in echoes
    ]
    statement = sa.insert(events).values(received_at=db_now(db.dialect.name))
    await db.execute(statement, rows)
