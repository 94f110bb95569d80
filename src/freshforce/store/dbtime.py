"""The database's clock as SQL: "now" and "now plus N seconds", the same on SQLite and PostgreSQL.

Times that several processes must agree on (lease expiry, when a job is due) come from here, so
no worker's clock decides for another. PostgreSQL's ``now()`` is the transaction's start. SQLite's
``'now'`` is rendered in the text format SQLAlchemy stores datetimes in (microseconds, no zone),
so comparisons with stored values stay text comparisons of one format.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from freshforce.store.types import UTCDateTime

__all__ = ["db_now", "db_time"]

# strftime's %f is "SS.SSS"; three zeros make it SQLAlchemy's "SS.ffffff".
_SQLITE_FORMAT = "%Y-%m-%d %H:%M:%f000"


def db_now(dialect: str) -> sa.ColumnElement[datetime]:
    """Return the database's current time as an SQL expression for ``dialect``."""
    return db_time(dialect, 0.0)


def db_time(dialect: str, seconds: float | sa.ColumnElement[float]) -> sa.ColumnElement[datetime]:
    """Return the database's current time plus ``seconds`` (a value or an SQL expression)."""
    offset = seconds if isinstance(seconds, sa.ColumnElement) else sa.literal(float(seconds))
    if dialect == "postgresql":
        interval = sa.func.make_interval(0, 0, 0, 0, 0, 0, sa.cast(offset, sa.Float))
        return sa.type_coerce(sa.func.now() + interval, UTCDateTime)
    modifier = sa.func.printf("%+.6f seconds", offset)
    return sa.type_coerce(sa.func.strftime(_SQLITE_FORMAT, "now", modifier), UTCDateTime)
