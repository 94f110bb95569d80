"""The ``freshforce`` command line: argument checks, then one ``asyncio.run`` per command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from freshforce import __version__
from freshforce.commands import CliContext, cli_context, config_app, db_app, jobs, worker
from freshforce.commands.connect import connect
from freshforce.commands.connections import app as connections_app
from freshforce.commands.users import app as users_app
from freshforce.commands.web import web
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
app.add_typer(connections_app, name="connections")
app.add_typer(users_app, name="users")
app.command("web")(web)


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
def demo(
    ctx: typer.Context,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Run the scenario on free ports and exit (for scripts and tests).",
            envvar=f"{ENV_PREFIX}DEMO_CHECK",
        ),
    ] = False,
    seed: Annotated[
        int, typer.Option(help="Seed for the sandboxes' data.", envvar=f"{ENV_PREFIX}DEMO_SEED")
    ] = 42,
) -> None:
    """Run the guided demo: both sandboxes and the store on embedded SQLite, then a scenario."""
    from freshforce.commands.demo import run_demo_command  # noqa: PLC0415 - heavy imports

    run_demo_command(cli_context(ctx), check=check, seed=seed)


app.command(help="Run the local FreshBooks and Salesforce sandboxes; flags show their env var.")(
    sandbox
)


def main() -> None:
    """Entry point of the ``freshforce`` console script."""
    app()


if __name__ == "__main__":
    main()
