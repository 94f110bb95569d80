import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.store.engine import create_engine, is_sqlite


async def test_engine_round_trips_and_sqlite_uses_wal(
    engine: AsyncEngine, database_url: str
) -> None:
    async with engine.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
        await conn.execute(sa.text("INSERT INTO t VALUES (41)"))
    async with engine.connect() as conn:
        assert (await conn.execute(sa.text("SELECT x + 1 FROM t"))).scalar_one() == 42
        if is_sqlite(database_url):
            mode = (await conn.execute(sa.text("PRAGMA journal_mode"))).scalar_one()
            assert mode == "wal"


def test_plain_urls_pick_async_drivers() -> None:
    assert create_engine("sqlite:///x.db").url.drivername == "sqlite+aiosqlite"
    assert create_engine("postgresql://u@h/db").url.drivername == "postgresql+asyncpg"


async def test_sqlite_file_directory_is_created(tmp_path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'new' / 'dir' / 'ff.db'}")
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(sa.text("SELECT 1"))).scalar_one() == 1
    finally:
        await engine.dispose()
    assert (tmp_path / "new" / "dir" / "ff.db").exists()
