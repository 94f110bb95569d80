import asyncio

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.errors import ConfigError
from freshforce.store import migrate
from freshforce.store.schema import metadata


def _differences(connection: sa.Connection) -> list[object]:
    options = {"compare_type": True, "compare_server_default": migrate.compare_server_default}
    context = MigrationContext.configure(connection, opts=options)
    return list(compare_metadata(context, metadata))


async def test_migrations_produce_exactly_the_declared_schema(
    database_url: str, engine: AsyncEngine
) -> None:
    await migrate.upgrade(database_url)
    async with engine.connect() as conn:
        assert await conn.run_sync(_differences) == []
        tables = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
    assert tables == set(metadata.tables) | {"alembic_version"}


async def test_the_comparison_sees_a_missing_index(database_url: str, engine: AsyncEngine) -> None:
    await migrate.upgrade(database_url)
    async with engine.begin() as conn:
        await conn.execute(sa.text("DROP INDEX uq_jobs_running_tenant_key"))
    async with engine.connect() as conn:
        diffs = await conn.run_sync(_differences)
    assert [d[0] for d in diffs] == ["add_index"]  # type: ignore[index]


async def test_upgrade_is_idempotent_and_safe_to_run_concurrently(database_url: str) -> None:
    assert await migrate.current(database_url) is None
    await asyncio.gather(*(migrate.upgrade(database_url) for _ in range(4)))
    await migrate.upgrade(database_url)
    assert await migrate.current(database_url) == migrate.head()


async def test_prepare_refuses_an_old_schema_unless_allowed(database_url: str) -> None:
    with pytest.raises(ConfigError, match="run `freshforce db upgrade`"):
        await migrate.prepare_database(database_url, auto_migrate=False)
    await migrate.prepare_database(database_url, auto_migrate=True)
    await migrate.prepare_database(database_url, auto_migrate=False)
    assert await migrate.current(database_url) == migrate.head()


async def test_a_database_from_a_newer_version_is_refused_untouched(
    database_url: str, engine: AsyncEngine
) -> None:
    await migrate.upgrade(database_url)
    async with engine.begin() as conn:
        await conn.execute(sa.text("UPDATE alembic_version SET version_num = '0099_from_later'"))
    for auto_migrate in (True, False):
        with pytest.raises(ConfigError, match="0099_from_later, which this version") as caught:
            await migrate.prepare_database(database_url, auto_migrate=auto_migrate)
        assert "written by a newer freshforce" in str(caught.value)
    assert await migrate.current(database_url) == "0099_from_later"
