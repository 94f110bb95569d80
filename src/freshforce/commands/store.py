"""Open the store for a command: the one place the CLI turns a database URL into a ready engine.

The URL is the command's ``--database-url`` when given, else the settings' ``database_url``
(which the global ``--profile``/``--config`` options and ``FRESHFORCE_DATABASE_URL`` decide). The
schema is brought to the current migration when ``auto_migrate`` allows, and refused otherwise.
``run_with_store`` is each command's single ``asyncio.run``: it opens the store, runs the
command's coroutine and turns an unreachable database into a one-line error and exit code 1.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa
import typer
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.commands.context import EXIT_BAD_CONFIG, cli_context
from freshforce.errors import ConfigError
from freshforce.store.engine import create_engine
from freshforce.store.migrate import prepare_database

__all__ = [
    "DATABASE_URL_ENVVAR",
    "open_store",
    "run_with_store",
    "safe_url",
]

DATABASE_URL_ENVVAR = "FRESHFORCE_DATABASE_URL"

T = TypeVar("T")


def safe_url(url: str) -> str:
    """Return the URL with any password masked, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparseable URL>"


def _check_url(url: str) -> None:
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as exc:
        msg = f"{url!r} is not a database URL (e.g. sqlite+aiosqlite:///data/freshforce.db)"
        raise typer.BadParameter(msg, param_hint="--database-url") from exc
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        msg = f"{safe_url(url)}: only sqlite and postgresql databases are supported"
        raise typer.BadParameter(msg, param_hint="--database-url")
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


async def open_store(url: str, *, auto_migrate: bool) -> AsyncEngine:
    """Return an engine on ``url`` whose schema is at the current migration."""
    await prepare_database(url, auto_migrate=auto_migrate)
    return create_engine(url)


def run_with_store(
    ctx: typer.Context, url: str | None, work: Callable[[AsyncEngine], Awaitable[T]]
) -> T:
    """Open the store (``url`` or the settings'), await ``work(engine)``, dispose the engine."""
    cli = cli_context(ctx)
    settings = cli.settings
    url = url or settings.database_url
    _check_url(url)

    async def main() -> T:
        engine = await open_store(url, auto_migrate=settings.auto_migrate)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except ConfigError as exc:
        cli.fail(exc.message, code=EXIT_BAD_CONFIG)
    except (sa.exc.OperationalError, sa.exc.InterfaceError, OSError) as exc:
        first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
        typer.echo(f"error: cannot use the database {safe_url(url)}: {first_line}", err=True)
        raise typer.Exit(1) from exc
