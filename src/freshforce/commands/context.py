"""CLI context: the settings built once per invocation, the two consoles, and error exits.

The root callback in ``cli.py`` puts one :class:`CliContext` in ``typer.Context.obj``; each command
takes it from there. :func:`run` runs a command's coroutine once and turns expected failures into
a message on stderr and an exit code: 2 for bad configuration or arguments, 1 for the rest.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import SQLAlchemyError

from freshforce.errors import ConfigError, FreshforceError
from freshforce.logs import configure_logging
from freshforce.settings import Settings, load_settings

__all__ = ["EXIT_BAD_CONFIG", "EXIT_FAILED", "CliContext", "cli_context", "print_json", "run"]

EXIT_FAILED = 1
EXIT_BAD_CONFIG = 2
T = TypeVar("T")


@dataclass
class CliContext:
    """What the global options chose; the settings are loaded on first use and then kept."""

    profile: str | None
    config_file: Path | None
    stdout: Console = field(default_factory=Console)
    stderr: Console = field(default_factory=lambda: Console(stderr=True))
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        """Return the settings, loading them (and configuring logging) the first time."""
        if self._settings is None:
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


def run(cli: CliContext, work: Callable[[], Coroutine[object, object, T]]) -> T:
    """Run ``work`` in one event loop; report expected failures and exit non-zero."""
    try:
        return asyncio.run(work())
    except ConfigError as exc:
        cli.fail(exc.message, code=EXIT_BAD_CONFIG)
    except FreshforceError as exc:
        cli.fail(exc.message, code=EXIT_FAILED)
    except (SQLAlchemyError, OSError) as exc:
        cli.fail(f"database: {_first_line(exc)}", code=EXIT_FAILED)


def print_json(data: object) -> None:
    """Write ``data`` to stdout as indented JSON, nothing else on the line."""
    typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.splitlines()[0] if text else type(exc).__name__
