"""Build the async SQLAlchemy engine for a database URL, SQLite or PostgreSQL.

SQLite runs in WAL mode with a busy timeout, foreign keys on, and every transaction opened with
``BEGIN IMMEDIATE`` so two writers queue on the lock instead of failing on upgrade; the file's
directory is created when missing. This is the one place where the two backends differ at
connection level.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

__all__ = ["create_engine", "is_sqlite"]

_SQLITE_BUSY_TIMEOUT_MS = 30_000
_SQLITE_POOL_SIZE = 20
_POSTGRES_POOL_SIZE = 16


def is_sqlite(url: str) -> bool:
    """Say whether a database URL names an SQLite database."""
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(
    url: str, *, echo: bool = False, busy_timeout_ms: int = _SQLITE_BUSY_TIMEOUT_MS
) -> AsyncEngine:
    """Return an async engine for ``url`` with the per-backend connection settings applied.

    ``busy_timeout_ms`` is how long an SQLite writer waits for the write lock before it fails
    with "database is locked" (PostgreSQL ignores it).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.drivername == "sqlite":
            parsed = parsed.set(drivername="sqlite+aiosqlite")
        if not parsed.database or parsed.database == ":memory:":
            engine = create_async_engine(parsed, echo=echo)
            _configure_sqlite(engine, busy_timeout_ms)
            return engine
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # The pool is sized for a worker's runners, claimer, acks and heartbeat, so connections
        # (each an aiosqlite thread) are not opened and closed as overflow on every burst. No
        # reset-on-return: SQLAlchemy already rolls back a transaction left open when a
        # connection closes, and a reset on every checkin is one more thread hand-off.
        engine = create_async_engine(
            parsed,
            echo=echo,
            pool_size=_SQLITE_POOL_SIZE,
            max_overflow=_SQLITE_POOL_SIZE,
            pool_reset_on_return=None,
        )
        _configure_sqlite(engine, busy_timeout_ms)
        return engine
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+asyncpg")
    # Connections open lazily, so a pool sized for a worker's runners, claimer, acks and
    # heartbeat costs nothing until used, and overflow connections are not opened per burst.
    return create_async_engine(
        parsed, echo=echo, pool_size=_POSTGRES_POOL_SIZE, max_overflow=_POSTGRES_POOL_SIZE // 2
    )


def _configure_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    # The DBAPI connection objects are driver-level and untyped.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:  # noqa: ANN401 - DBAPI object
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
