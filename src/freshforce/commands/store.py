"""Open the runtime for a command: the one place the CLI turns settings into a ready store.

The settings are the global ``--profile``/``--config`` options, the file and the environment,
with the command's own flags on top (each flag overrides the settings key of the same name, e.g.
``--database-url`` → ``database_url``, so a relative SQLite path is taken relative to
``data_dir`` as in the settings). The schema is brought to the current migration when
``auto_migrate`` allows, and refused otherwise. ``run_with_runtime`` is each command's single
``asyncio.run``: it opens the :class:`~freshforce.runtime.Runtime`, runs the command's coroutine
and turns an unreachable database into a one-line error naming the database and exit code 1. A
SQLite file that a failed command created is removed, so a failed start leaves nothing behind.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import sqlalchemy as sa
import typer
from sqlalchemy.engine import make_url

from freshforce.commands.context import cli_context, first_line, run

if TYPE_CHECKING:
    from freshforce.runtime import Runtime

__all__ = [
    "DATABASE_URL_ENVVAR",
    "database_problem",
    "new_sqlite_file_removed",
    "run_with_runtime",
    "safe_url",
]

DATABASE_URL_ENVVAR = "FRESHFORCE_DATABASE_URL"
_SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")

T = TypeVar("T")


def safe_url(url: str) -> str:
    """Return the URL with any password masked, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparseable URL>"


def database_problem(url: str | None, exc: BaseException) -> str:
    """Say which database failed, why, and what to check (the password masked)."""
    if url is None:
        return f"database: {first_line(exc)}"
    return (
        f"cannot use the database {safe_url(url)}: {first_line(exc)}; check database_url "
        f"({DATABASE_URL_ENVVAR} or --database-url) and that the database is reachable"
    )


def _sqlite_file(url: str | None) -> Path | None:
    if url is None:
        return None
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in {None, "", ":memory:"}:
        return None
    return Path(str(parsed.database))


@contextlib.contextmanager
def new_sqlite_file_removed(url: str | None) -> Iterator[None]:
    """Remove the SQLite file (and its -wal/-shm) again if it is new and the block fails."""
    path = _sqlite_file(url)
    existed = path is None or path.exists()
    try:
        yield
    except BaseException:
        if not existed and path is not None:
            for suffix in _SQLITE_COMPANIONS:
                path.with_name(path.name + suffix).unlink(missing_ok=True)
        raise


def _check_url(url: str) -> None:
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as exc:
        msg = f"{url!r} is not a database URL (e.g. sqlite+aiosqlite:////srv/freshforce.db)"
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
    # The runtime (store, HTTP, gRPC) loads here, so `--help` and `config show` stay light.
    from freshforce.runtime import Runtime  # noqa: PLC0415

    cli = cli_context(ctx)
    settings = cli.settings_with(**overrides)
    url = settings.database_url
    _check_url(url)

    async def main() -> T:
        async with await Runtime.open(settings) as runtime:
            return await work(runtime)

    return run(cli, main, database_url=url)
