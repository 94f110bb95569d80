"""Migration 0003: older stored cursors are converted to the one intake cursor format."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.intake import Cursor
from freshforce.store import migrate
from freshforce.store.schema import cursors

OLD = {
    "freshbooks:clients": json.dumps(
        {"watermark": "2026-01-16T05:00:05+00:00", "seen": {"42": "2026-01-16T05:00:05+00:00"}}
    ),
    "salesforce/poll/Account/clients": json.dumps(
        {"since": "2026-01-01T00:05:00+00:00", "seen": [["001A", "2026-01-01T00:05:00.000+0000"]]}
    ),
    "salesforce/cdc/data/AccountChangeEvent": "AAAAAAAAAAU=",
}


def _to(connection: sa.Connection, revision: str, *, down: bool = False) -> None:
    config = migrate.alembic_config(connection)
    (command.downgrade if down else command.upgrade)(config, revision)


async def _values(engine: AsyncEngine) -> dict[str, str]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(cursors.c.stream, cursors.c.value))
        return {r.stream: r.value for r in rows}


async def test_upgrade_converts_every_stored_cursor_and_downgrade_restores_them(
    database_url: str, engine: AsyncEngine
) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_to, "0002")
        now = datetime.now(UTC)
        for stream, value in OLD.items():
            await conn.execute(
                cursors.insert().values(
                    connection_id="c", stream=stream, value=value, updated_at=now
                )
            )
    await migrate.upgrade(database_url)
    new = await _values(engine)
    assert {k: Cursor.load(v) for k, v in new.items()} == {
        "freshbooks/poll/clients": Cursor(
            "2026-01-16T05:00:05+00:00", frozenset({("42", "2026-01-16T05:00:05+00:00")})
        ),
        "salesforce/poll/Account/clients": Cursor(
            "2026-01-01T00:05:00+00:00", frozenset({("001A", "2026-01-01T00:05:00.000+0000")})
        ),
        "salesforce/cdc/data/AccountChangeEvent": Cursor("AAAAAAAAAAU="),
    }
    async with engine.begin() as conn:
        await conn.run_sync(_to, "0002", down=True)
    restored = await _values(engine)
    assert {k: json.loads(v) if "{" in v else v for k, v in restored.items()} == {
        k: json.loads(v) if "{" in v else v for k, v in OLD.items()
    }
