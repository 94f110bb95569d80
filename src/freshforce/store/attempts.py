"""The SQL of the attempts table: one row per try of a job, with its duration and outcome."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from freshforce.store.schema import attempts

__all__ = ["AttemptRecord", "list_attempts", "record_attempt", "record_attempts"]


@dataclass(frozen=True)
class AttemptRecord:
    """How one try of a job ended; written to ``attempts``."""

    job_id: int
    attempt: int
    worker: str | None
    started_at: datetime
    finished_at: datetime
    outcome: str
    error_class: str | None = None
    error_message: str | None = None
    traceback: str | None = None

    @property
    def duration_ms(self) -> float:
        """How long the attempt took, in milliseconds."""
        return (self.finished_at - self.started_at).total_seconds() * 1000.0


async def record_attempt(conn: AsyncConnection, record: AttemptRecord) -> None:
    """Write one attempt row with its duration in milliseconds."""
    await conn.execute(sa.insert(attempts).values(**_row(record)))


async def record_attempts(conn: AsyncConnection, records: Sequence[AttemptRecord]) -> None:
    """Write many attempt rows in one batched insert (none when ``records`` is empty)."""
    if records:
        await conn.execute(sa.insert(attempts), [_row(r) for r in records])


def _row(record: AttemptRecord) -> dict[str, object]:
    return {
        "job_id": record.job_id,
        "attempt": record.attempt,
        "worker": record.worker,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "duration_ms": record.duration_ms,
        "outcome": record.outcome,
        "error_class": record.error_class,
        "error_message": record.error_message,
        "traceback": record.traceback,
    }


async def list_attempts(conn: AsyncConnection, job_id: int) -> list[AttemptRecord]:
    """Return every recorded attempt of a job, oldest first."""
    rows = (
        await conn.execute(
            sa.select(attempts).where(attempts.c.job_id == job_id).order_by(attempts.c.id)
        )
    ).all()
    return [
        AttemptRecord(
            job_id=r.job_id,
            attempt=r.attempt,
            worker=r.worker,
            started_at=r.started_at,
            finished_at=r.finished_at,
            outcome=r.outcome,
            error_class=r.error_class,
            error_message=r.error_message,
            traceback=r.traceback,
        )
        for r in rows
    ]
