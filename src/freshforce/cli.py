"""The ``freshforce`` command line: argument checks, then one ``asyncio.run`` per command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from freshforce import __version__
from freshforce.commands import CliContext, config_app, db_app, jobs, worker
from freshforce.commands.connect import connect
from freshforce.sandbox.command import sandbox
from freshforce.settings import ENV_PREFIX

app = typer.Typer(
    name="freshforce",
    help="Keep FreshBooks and Salesforce in step, in near real time.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(db_app)
app.add_typer(config_app)
app.add_typer(worker.app, name="worker")
app.add_typer(jobs.app, name="jobs")
app.command("connect")(connect)


@app.callback()
def root(
    ctx: typer.Context,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            help="Settings profile: dev, qa or prod.",
            envvar=f"{ENV_PREFIX}PROFILE",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Settings file (.toml, .yaml or .yml).",
            envvar=f"{ENV_PREFIX}CONFIG",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Keep FreshBooks and Salesforce in step, in near real time."""
    ctx.obj = CliContext(profile=profile, config_file=config)


@app.command()
def version() -> None:
    """Print the installed version."""
    Console().print(__version__)


@app.command()
def demo() -> None:
    """Run the guided demo: sandboxes, engine and dashboard on embedded SQLite."""
    Console().print("freshforce demo: nothing to start yet.")


app.command(help="Run the local FreshBooks and Salesforce sandboxes; flags show their env var.")(
    sandbox
)


def main() -> None:
    """Entry point of the ``freshforce`` console script."""
    app()
