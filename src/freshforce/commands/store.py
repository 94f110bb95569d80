"""Open the runtime for a command: the one place the CLI turns settings into a ready store.

The settings are the global ``--profile``/``--config`` options, the file and the environment,
with the command's own flags on top (each flag overrides the settings key of the same name,
e.g. ``--database-url`` → ``database_url``). The schema is brought to the current migration when
``auto_migrate`` allows, and refused otherwise. ``run_with_runtime`` is each command's single
``asyncio.run``: it opens the :class:`~freshforce.runtime.Runtime`, runs the command's coroutine
and turns an unreachable database into a one-line error and exit code 1.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa
import typer
from sqlalchemy.engine import make_url

from freshforce.commands.context import EXIT_BAD_CONFIG, cli_context
from freshforce.errors import ConfigError
from freshforce.runtime import Runtime

__all__ = ["DATABASE_URL_ENVVAR", "run_with_runtime", "safe_url"]

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


def run_with_runtime(
    ctx: typer.Context, work: Callable[[Runtime], Awaitable[T]], **overrides: object
) -> T:
    """Build the runtime from the settings plus ``overrides``, await ``work(runtime)``, close it."""
    cli = cli_context(ctx)
    settings = cli.settings_with(**overrides)
    url = settings.database_url
    _check_url(url)

    async def main() -> T:
        async with await Runtime.open(settings) as runtime:
            return await work(runtime)

    try:
        return asyncio.run(main())
    except ConfigError as exc:
        cli.fail(exc.message, code=EXIT_BAD_CONFIG)
    except (sa.exc.OperationalError, sa.exc.InterfaceError, OSError) as exc:
        first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
        typer.echo(f"error: cannot use the database {safe_url(url)}: {first_line}", err=True)
        raise typer.Exit(1) from exc
