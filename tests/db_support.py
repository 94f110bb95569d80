"""A fresh database per test (or per module) on SQLite or PostgreSQL, dropped afterwards.

A test that wants the newest schema gets a copy of a template the real migrations built once
per run (``CREATE DATABASE … TEMPLATE`` on PostgreSQL, SQLite's backup API on SQLite), which
costs a fraction of migrating each database anew.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

POSTGRES_ADMIN_URL = os.environ.get(
    "FRESHFORCE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def _admin() -> sa.Engine:
    return sa.create_engine(
        POSTGRES_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"),
        isolation_level="AUTOCOMMIT",
    )


def _postgres_url(name: str) -> str:
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


@contextmanager
def fresh_database(backend: str, directory: Path, *, template: str | None = None) -> Iterator[str]:
    """Yield the URL of a new database on ``backend``; drop it afterwards (PostgreSQL).

    ``template`` (from :class:`MigratedTemplates`) makes it a copy of a migrated database.
    """
    if backend == "sqlite":
        path = directory / "freshforce.db"
        if template is not None:
            _copy_sqlite(Path(template), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    name = f"ff_test_{uuid.uuid4().hex[:12]}"
    admin = _admin()
    with admin.connect() as conn:
        like = f' TEMPLATE "{template}"' if template is not None else ""
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"{like}')
    try:
        yield _postgres_url(name)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _copy_sqlite(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


class MigratedTemplates:
    """One database per backend brought to the newest schema once, for tests to copy."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._made: dict[str, str] = {}
        self._lock = threading.Lock()

    def template(self, backend: str) -> str:
        """Return the template for ``backend`` (a file path or a database name), made once."""
        with self._lock:
            if backend not in self._made:
                self._made[backend] = self._make(backend)
            return self._made[backend]

    def _make(self, backend: str) -> str:
        if backend == "sqlite":
            path = self._directory / "template.db"
            _migrate(f"sqlite+aiosqlite:///{path}")
            return str(path)
        name = f"ff_template_{uuid.uuid4().hex[:12]}"
        admin = _admin()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
        _migrate(_postgres_url(name))
        return name

    def drop(self) -> None:
        """Drop the PostgreSQL template (the SQLite one goes with its directory)."""
        name = self._made.get("postgres")
        if name is None:
            return
        admin = _admin()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _migrate(url: str) -> None:
    """Run the real migrations on ``url`` in a thread of its own (no event loop runs there)."""
    from freshforce.store.migrate import upgrade  # noqa: PLC0415 - keeps collection import-light

    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(upgrade(url))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            failure.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    if failure:
        raise failure[0]
