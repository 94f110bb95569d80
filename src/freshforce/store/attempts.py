"""The SQL of the attempts table: one row per try of a job, with its duration and outcome."""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from freshforce.store.dbtime import db_now, db_time
from freshforce.store.schema import attempts

__all__ = ["AttemptRecord", "Failure", "list_attempts", "milliseconds", "record_attempts"]


@dataclass(frozen=True)
class Failure:
    """Why an attempt failed: the error's class, its message and, when known, the traceback."""

    error_class: str
    message: str
    traceback: str | None = None

    @classmethod
    def of(cls, error: BaseException) -> Failure:
        """Describe ``error`` with its formatted traceback."""
        name = type(error).__name__
        trace = "".join(traceback.format_exception(error))
        return cls(name, str(error) or name, trace)

    def __str__(self) -> str:
        return f"{self.error_class}: {self.message}"


def milliseconds(seconds: float) -> float:
    """Return an attempt's duration as recorded: milliseconds, never negative."""
    return max(seconds, 0.0) * 1000.0


@dataclass(frozen=True)
class AttemptRecord:
    """How one try of a job ended; a row of ``attempts``.

    Written records carry no times: the database stamps ``finished_at`` with its own clock and
    ``started_at`` as that minus ``duration_ms``. Records read back carry both.
    """

    job_id: int
    attempt: int
    worker: str | None
    outcome: str  # done | skipped | retry | dead | lost
    duration_ms: float
    failure: Failure | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @classmethod
    def ended(
        cls,
        job_id: int,
        *,
        attempt: int,
        worker: str | None,
        outcome: str,
        seconds: float,
        failure: Failure | None = None,
    ) -> AttemptRecord:
        """Return the record of an attempt that just ended after ``seconds`` of work."""
        return cls(job_id, attempt, worker, outcome, milliseconds(seconds), failure)

    @property
    def error_class(self) -> str | None:
        return None if self.failure is None else self.failure.error_class

    @property
    def error_message(self) -> str | None:
        return None if self.failure is None else self.failure.message

    @property
    def traceback(self) -> str | None:
        return None if self.failure is None else self.failure.traceback


async def record_attempts(conn: AsyncConnection, records: Sequence[AttemptRecord]) -> None:
    """Write attempt rows in one batched insert, timed by the database's clock."""
    if not records:
        return
    dialect = conn.dialect.name
    seconds = sa.bindparam("back", type_=sa.Float)
    stmt = sa.insert(attempts).values(
        started_at=db_time(dialect, seconds), finished_at=db_now(dialect)
    )
    await conn.execute(stmt, [_row(r) for r in records])


def _row(record: AttemptRecord) -> dict[str, object]:
    return {
        "job_id": record.job_id,
        "attempt": record.attempt,
        "worker": record.worker,
        "back": -record.duration_ms / 1000.0,
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
            outcome=r.outcome,
            duration_ms=r.duration_ms or 0.0,
            failure=None
            if r.error_class is None
            else Failure(r.error_class, r.error_message or "", r.traceback),
            started_at=r.started_at,
            finished_at=r.finished_at,
        )
        for r in rows
    ]
