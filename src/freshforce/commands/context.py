"""CLI context: the settings built once per invocation, the two consoles, and error exits.

The root callback in ``cli.py`` puts one :class:`CliContext` in ``typer.Context.obj``; each command
takes it from there. :func:`run` runs a command's coroutine once and turns expected failures into
a message on stderr and an exit code: 2 for bad configuration or arguments, 1 for the rest. A
command that uses the store passes its URL, so a database failure names the database (password
masked) and a SQLite file the failed command created is removed again.

Nothing heavy is imported here at module level: ``freshforce --help`` must not load SQLAlchemy or
pydantic. Output goes to consoles that do not cut lines at 80 columns when stdout is not a
terminal, so piped tables keep every value whole.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from freshforce.errors import ConfigError, FreshforceError

if TYPE_CHECKING:
    from freshforce.settings import Settings

__all__ = [
    "EXIT_BAD_CONFIG",
    "EXIT_FAILED",
    "CliContext",
    "cli_context",
    "console",
    "first_line",
    "print_json",
    "run",
]

EXIT_FAILED = 1
EXIT_BAD_CONFIG = 2
# Wide enough that no value is ever cut; rich tables only take the width their cells need.
_PIPED_WIDTH = 10_000
T = TypeVar("T")


def console(*, stderr: bool = False) -> Console:
    """Return a rich console; when not writing to a terminal, lines are never cut at 80 columns."""
    stream = sys.stderr if stderr else sys.stdout
    piped = not stream.isatty() and "COLUMNS" not in os.environ
    return Console(stderr=stderr, width=_PIPED_WIDTH if piped else None)


@dataclass
class CliContext:
    """What the global options chose; the settings are loaded on first use and then kept."""

    profile: str | None
    config_file: Path | None
    stdout: Console = field(default_factory=console)
    stderr: Console = field(default_factory=lambda: console(stderr=True))
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        """Return the settings, loading them (and configuring logging) the first time."""
        if self._settings is None:
            from freshforce.logs import configure_logging  # noqa: PLC0415 - see module doc
            from freshforce.settings import load_settings  # noqa: PLC0415 - same

            try:
                self._settings = load_settings(self.profile, self.config_file)
            except ConfigError as exc:
                self.fail(exc.message, code=EXIT_BAD_CONFIG)
            configure_logging(self._settings)
        return self._settings

    def settings_with(self, **overrides: object) -> Settings:
        """Return the settings with command-line ``overrides`` (``None``: not given) on top."""
        given = {key: value for key, value in overrides.items() if value is not None}
        settings = self.settings  # the first load also configures logging
        if not given:
            return settings
        from freshforce.settings import load_settings  # noqa: PLC0415 - see module doc

        try:
            return load_settings(self.profile, self.config_file, **given)
        except ConfigError as exc:
            self.fail(exc.message, code=EXIT_BAD_CONFIG)

    def fail(self, message: str, *, code: int) -> NoReturn:
        """Print ``message`` as an error on stderr and stop with ``code``."""
        self.stderr.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
        raise typer.Exit(code)


def cli_context(ctx: typer.Context) -> CliContext:
    """Return the :class:`CliContext` the root callback stored."""
    obj = ctx.find_root().obj
    if not isinstance(obj, CliContext):
        msg = "the freshforce root callback did not run"
        raise TypeError(msg)
    return obj


def run(
    cli: CliContext,
    work: Callable[[], Coroutine[object, object, T]],
    *,
    database_url: str | None = None,
) -> T:
    """Run ``work`` in one event loop; report expected failures and exit non-zero.

    Give ``database_url`` when ``work`` uses the store: its failures then name that database.
    """
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415 - see module doc

    from freshforce.commands.store import database_problem, new_sqlite_file_removed  # noqa: PLC0415

    with new_sqlite_file_removed(database_url):
        try:
            return asyncio.run(work())
        except ConfigError as exc:
            cli.fail(exc.message, code=EXIT_BAD_CONFIG)
        except FreshforceError as exc:
            cli.fail(exc.message, code=EXIT_FAILED)
        except SQLAlchemyError as exc:
            cli.fail(database_problem(database_url, exc), code=EXIT_FAILED)
        except OSError as exc:
            if database_url is None:
                cli.fail(first_line(exc), code=EXIT_FAILED)
            cli.fail(database_problem(database_url, exc), code=EXIT_FAILED)


def print_json(data: object) -> None:
    """Write ``data`` to stdout as indented JSON, nothing else on the line."""
    typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def first_line(exc: BaseException) -> str:
    """Return the first line of an exception's message (a driver's own, when wrapped)."""
    text = str(getattr(exc, "orig", None) or exc)
    return text.splitlines()[0] if text else type(exc).__name__
