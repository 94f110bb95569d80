"""The jobs table's values: requests, jobs, statuses, hints, and the SQL pieces every part shares.

Every transition of a running job is a compare-and-set fenced by the attempt that holds it
(``fence``); ``status_is`` writes a status into the SQL so the partial indexes match prepared
(generic) plans too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from freshforce.store.schema import jobs

__all__ = [
    "MAX_HINTS",
    "NOTIFY_CHANNEL",
    "Hint",
    "Job",
    "JobRequest",
    "JobStatus",
    "fence",
    "greatest",
    "is_postgres",
    "least",
    "merge_hints",
    "row_job",
    "row_jobs",
    "sqlstate",
    "status_is",
]

NOTIFY_CHANNEL = "freshforce_jobs"
MAX_HINTS = 100
RACE_TRIES = 8
DEADLOCK = "40P01"

# A hint is JSON from intake: a string or a small object of JSON values.
Hint = str | dict[str, Any]


class JobStatus(StrEnum):
    """Where a job is in its life: pending → running → done | dead (or back to pending)."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"


_STATUSES = {s.value: s for s in JobStatus}


@dataclass(frozen=True)
class JobRequest:
    """Reconcile ``key`` for ``flow`` of ``tenant`` in ``delay`` seconds; lower priority first."""

    flow: str
    key: str
    hints: tuple[Hint, ...] = ()
    delay: float = 0.0
    priority: int = 0
    tenant: str = "default"

    def __post_init__(self) -> None:
        if not self.flow or not self.key or not self.tenant:
            msg = (
                f"a job needs a flow, a key and a tenant, got flow={self.flow!r} "
                f"key={self.key!r} tenant={self.tenant!r}"
            )
            raise ValueError(msg)
        if self.delay < 0:
            msg = f"delay must be >= 0 seconds, got {self.delay} for {self.flow} {self.key}"
            raise ValueError(msg)


@dataclass(frozen=True)
class Job:
    """One row of ``jobs``: reconcile ``key`` for ``flow``; ``attempt`` counts claims so far.

    Times are the database's. For a job just claimed, ``updated_at`` is when it was claimed.
    """

    id: int
    tenant: str
    flow: str
    key: str
    status: JobStatus
    priority: int
    hints: tuple[Hint, ...]
    attempt: int
    max_attempts: int
    run_at: datetime
    not_before: datetime | None
    locked_by: str | None
    lease_expires_at: datetime | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime


def merge_hints(old: Sequence[Hint], new: Sequence[Hint]) -> list[Hint]:
    """Union two hint lists in order, without duplicates, keeping the newest ``MAX_HINTS``."""
    seen: set[str] = set()
    merged: list[Hint] = []
    for hint in [*old, *new]:
        canonical = json.dumps(hint, sort_keys=True, separators=(",", ":"))
        if canonical not in seen:
            seen.add(canonical)
            merged.append(hint)
    return merged[-MAX_HINTS:]


def row_job(row: Row[Any]) -> Job:
    """Return the ``Job`` of a row holding every column of ``jobs``."""
    [job] = row_jobs([row])
    return job


# Job fields in declaration order, and the jobs column each is read from.
_JOB_COLUMNS = tuple("attempts" if f.name == "attempt" else f.name for f in fields(Job))
_JOB_FIELDS = tuple(f.name for f in fields(Job))
_STATUS_AT = _JOB_FIELDS.index("status")
_HINTS_AT = _JOB_FIELDS.index("hints")


def row_jobs(rows: Sequence[Row[Any]]) -> list[Job]:
    """Return the ``Job`` of each row; every row holds every column of ``jobs``, by name.

    Built for claims of hundreds of rows: the columns' positions are looked up once (from the
    first row's names), and each ``Job`` gets its fields as one dictionary. A frozen dataclass's
    ``__init__`` sets each of its 16 fields through ``object.__setattr__``, which cost several
    microseconds per job, a tenth of a worker's time on no-op jobs.
    """
    if not rows:
        return []
    names = rows[0]._fields
    at = [names.index(column) for column in _JOB_COLUMNS]
    built: list[Job] = []
    new = object.__new__
    for row in rows:
        values = [row[i] for i in at]
        values[_STATUS_AT] = _STATUSES[values[_STATUS_AT]]
        values[_HINTS_AT] = tuple(values[_HINTS_AT] or ())
        job = new(Job)
        job.__dict__.update(zip(_JOB_FIELDS, values, strict=True))
        built.append(job)
    return built


def is_postgres(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "postgresql"


def sqlstate(exc: sa.exc.DBAPIError) -> str | None:
    """Return the SQLSTATE of a driver error, when the driver tells it."""
    for error in (exc.orig, getattr(exc.orig, "__cause__", None)):
        code = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


def least(conn: AsyncConnection, *values: Any) -> sa.ColumnElement[Any]:  # noqa: ANN401 - SQL
    return sa.func.least(*values) if is_postgres(conn) else sa.func.min(*values)


def greatest(conn: AsyncConnection, *values: Any) -> sa.ColumnElement[Any]:  # noqa: ANN401 - SQL
    return sa.func.greatest(*values) if is_postgres(conn) else sa.func.max(*values)


PENDING_WHERE = sa.text("status = 'pending'")


def status_is(column: sa.ColumnElement[str], status: JobStatus) -> sa.ColumnElement[bool]:
    """Return ``column = 'status'`` with the status written into the SQL, not bound.

    The partial indexes (``… WHERE status = 'pending'`` / ``'running'``) match a query only when
    its predicate is that literal: asyncpg prepares every statement, PostgreSQL switches a
    prepared statement to a generic plan after five runs, and a generic plan with ``status = $1``
    cannot prove the index predicate, so it would scan every row of that status instead.
    """
    return column == sa.literal_column(f"'{status.value}'", sa.String)


def fence(worker: str, held: Sequence[tuple[int, int]]) -> list[sa.ColumnElement[bool]]:
    """Return the compare-and-set guard: each (job id, attempt) still runs, leased to ``worker``."""
    if len(held) == 1:
        [(job_id, attempt)] = held
        owned = sa.and_(jobs.c.id == job_id, jobs.c.attempts == attempt)
    else:
        # The plain id list lets the primary key find the rows; the pairs then check attempts.
        owned = sa.and_(
            jobs.c.id.in_([job_id for job_id, _ in held]),
            sa.tuple_(jobs.c.id, jobs.c.attempts).in_(list(held)),
        )
    return [owned, status_is(jobs.c.status, JobStatus.RUNNING), jobs.c.locked_by == worker]
