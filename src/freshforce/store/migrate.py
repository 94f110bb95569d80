"""Migrate: bring a database to the newest store schema with Alembic, safely and idempotently.

The Alembic configuration is built here in code, so nothing but the package is needed at run
time. Each upgrade runs in one transaction under a lock: on PostgreSQL a transaction-scoped
advisory lock, on SQLite the write lock ``BEGIN IMMEDIATE`` takes (store/engine.py). A second
upgrader waits for the first and then finds nothing to do.
"""

from __future__ import annotations

import re
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from freshforce.errors import ConfigError
from freshforce.store.engine import create_engine

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sqlalchemy.engine import Connection
    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = [
    "alembic_config",
    "compare_server_default",
    "current",
    "head",
    "prepare_database",
    "upgrade",
]

_SCRIPT_LOCATION = Path(__file__).with_name("migrations")
# Any fixed 64-bit number: the key of the PostgreSQL advisory lock that serialises upgrades.
_ADVISORY_LOCK_KEY = 0x46_52_45_53_48_46_46_31  # "FRESHFF1"


def alembic_config(connection: Connection | None = None) -> Config:
    """Return the Alembic configuration of the store, optionally bound to ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(_SCRIPT_LOCATION))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


def compare_server_default(  # noqa: PLR0917 - the signature Alembic calls
    context: MigrationContext,
    inspected_column: sa.Column[object],
    metadata_column: sa.Column[object],
    inspected_default: str | None,
    metadata_default: object,
    rendered_metadata_default: str | None,
) -> bool | None:
    """Compare JSON server defaults as text; leave every other column to Alembic (``None``).

    Alembic's own check asks PostgreSQL ``'{}'::json = '{}'``, and json has no ``=`` operator.
    """
    del context, inspected_column, metadata_default
    if not isinstance(metadata_column.type, sa.JSON) or inspected_default is None:
        return None
    found = re.sub(r"::\w+$", "", inspected_default).strip("'")
    wanted = (rendered_metadata_default or "").strip("'")
    return found != wanted


def head() -> str:
    """Return the newest revision the code knows."""
    revision = _scripts().get_current_head()
    if revision is None:
        msg = "the store has no migrations"
        raise RuntimeError(msg)
    return revision


async def upgrade(database_url: str) -> None:
    """Upgrade the database at ``database_url`` to the newest revision; a no-op when it is there.

    A database at a revision this version does not know (written by a newer freshforce) is
    refused with a ``ConfigError`` before anything is changed.
    """
    async with _locked_transaction(database_url) as connection:
        _refuse_unknown(await connection.run_sync(_current_sync))
        await connection.run_sync(_upgrade_sync)


async def current(database_url: str) -> str | None:
    """Return the database's revision, or ``None`` when it was never migrated."""
    async with _connection(database_url) as connection:
        return await connection.run_sync(_current_sync)


async def prepare_database(database_url: str, *, auto_migrate: bool) -> None:
    """Make sure the schema is current at start: upgrade when allowed, refuse to run otherwise."""
    if auto_migrate:
        await upgrade(database_url)
        return
    found = await current(database_url)
    wanted = head()
    _refuse_unknown(found)
    if found != wanted:
        msg = (
            f"the database is at revision {found or 'none'} but this version needs {wanted}: "
            "run `freshforce db upgrade` (or set auto_migrate = true)"
        )
        raise ConfigError(msg)


def _refuse_unknown(revision: str | None) -> None:
    """Raise ``ConfigError`` when ``revision`` is not one of this version's migrations."""
    if revision is None:
        return
    known = {script.revision for script in _scripts().walk_revisions()}
    if revision not in known:
        msg = (
            f"the database is at revision {revision}, which this version of freshforce does not "
            f"know (its newest is {head()}): it was written by a newer freshforce. Run that "
            "version, or restore a backup taken before the upgrade"
        )
        raise ConfigError(msg)


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def _upgrade_sync(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


def _current_sync(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


@asynccontextmanager
async def _connection(database_url: str) -> AsyncIterator[AsyncConnection]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            yield connection
    finally:
        await engine.dispose()


@asynccontextmanager
async def _locked_transaction(database_url: str) -> AsyncIterator[AsyncConnection]:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                lock = sa.text("SELECT pg_advisory_xact_lock(:key)")
                await connection.execute(lock, {"key": _ADVISORY_LOCK_KEY})
            yield connection
    finally:
        await engine.dispose()
