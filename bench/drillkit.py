"""What the drills and benches share: quiet logs, the report and exit code, a throwaway database."""

import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import create_async_engine


def quiet() -> None:
    """Silence freshforce's and the sandboxes' logs: the drill prints its own report."""
    logging.disable(logging.CRITICAL)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))


def finish(report: dict[str, Any], *, as_json: bool, failures: tuple[str, ...]) -> None:
    """Print ``report`` (one JSON line, or aligned lines); exit 1 if a ``failures`` key is set."""
    if as_json:
        print(json.dumps(report))
    else:
        width = max(map(len, report)) + 2
        for key, value in report.items():
            print(f"{key:<{width}} {value}")
    raise SystemExit(1 if any(report[key] for key in failures) else 0)


@contextlib.asynccontextmanager
async def fresh_database(url: str | None, folder: Path, name: str) -> AsyncIterator[str]:
    """Yield the URL of an empty database called ``name``, dropped afterwards.

    With ``url`` None, an SQLite file ``name.db`` in ``folder``; else a PostgreSQL database
    created beside the one ``url`` names (``postgresql://`` is driven by asyncpg).
    """
    if url is None:
        yield f"sqlite+aiosqlite:///{folder / f'{name}.db'}"
        return
    database = f"ff_bench_{name}_{os.getpid()}"
    if url.startswith("postgresql://"):  # the test suite's form: asyncpg drives it here
        url = url.replace("postgresql://", "postgresql+asyncpg://", 1)
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as db:
        await db.exec_driver_sql(f"CREATE DATABASE {database}")
    try:
        yield str(sa.make_url(url).set(database=database).render_as_string(hide_password=False))
    finally:
        async with admin.connect() as db:
            await db.exec_driver_sql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        await admin.dispose()
