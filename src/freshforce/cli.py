"""The ``freshforce`` command line: argument checks, then one ``asyncio.run`` per command.

Importing this module registers every command without importing what the commands use
(SQLAlchemy, FastAPI, httpx, gRPC, pydantic): each command imports its own modules when it runs,
so ``freshforce --help`` answers at once. A test pins which modules the import loads.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from freshforce import __version__
from freshforce.commands import CliContext, cli_context, config_app, db_app, jobs, worker
from freshforce.commands.assist import anomalies_app, map_app
from freshforce.commands.conflicts import app as conflicts_app
from freshforce.commands.connect import connect
from freshforce.commands.connections import app as connections_app
from freshforce.commands.flows import flows_app
from freshforce.commands.promote import promote
from freshforce.commands.run import listen, run
from freshforce.commands.sync import reconcile, sync
from freshforce.commands.tenants import app as tenants_app
from freshforce.commands.trace import trace
from freshforce.commands.users import app as users_app
from freshforce.commands.web import web
from freshforce.envvars import ENV_PREFIX, unknown_variables
from freshforce.sandbox.command import sandbox

# Help is drawn in boxes as wide as the console; when not on a terminal, this wide instead of 80,
# so option help and env var names are never cut.
_PIPED_HELP_WIDTH = 120

app = typer.Typer(
    name="freshforce",
    help="Keep FreshBooks and Salesforce in step, in near real time.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(db_app)
app.add_typer(config_app)
app.command("run")(run)
app.command("listen")(listen)
app.command("worker")(worker.worker)
app.add_typer(conflicts_app, name="conflicts")
app.command("trace")(trace)
app.add_typer(jobs.app, name="jobs")
app.command("connect")(connect)
app.add_typer(connections_app, name="connections")
app.add_typer(users_app, name="users")
app.add_typer(tenants_app, name="tenants")
app.command("web")(web)
app.command("sync")(sync)
app.command("reconcile")(reconcile)
app.command("promote")(promote)

app.add_typer(map_app, name="map")
app.add_typer(anomalies_app, name="anomalies")
app.add_typer(flows_app, name="flows")


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
    _warn_unknown_variables(ctx)


def _warn_unknown_variables(ctx: typer.Context) -> None:
    known = set(_option_envvars(ctx.find_root().command))
    if not unknown_variables(os.environ, known):
        return
    from freshforce.settings import Settings  # noqa: PLC0415 - only when a name is not an option

    known.update(f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields)
    for warning in unknown_variables(os.environ, known):
        typer.echo(f"warning: {warning}", err=True)


def _option_envvars(command: object) -> Iterator[str]:
    # typer's own click commands and groups: read by attribute, whichever click they come from.
    for param in getattr(command, "params", []):
        envvar = getattr(param, "envvar", None)
        yield from [envvar] if isinstance(envvar, str) else envvar or []
    for sub in getattr(command, "commands", {}).values():
        yield from _option_envvars(sub)


@app.command()
def version() -> None:
    """Print the installed version."""
    typer.echo(__version__)


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
    folder: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="The demo's own folder (store, maps); default $XDG_DATA_HOME/freshforce-demo.",
            envvar=f"{ENV_PREFIX}DEMO_DIR",
        ),
    ] = None,
) -> None:
    """Run the guided demo: sandboxes, freshforce as a service on its own store, one deal."""
    from freshforce.commands.demo import run_demo_command  # noqa: PLC0415 - heavy imports

    run_demo_command(cli_context(ctx), check=check, seed=seed, folder=folder)


app.command(help="Run the local FreshBooks and Salesforce sandboxes; flags show their env var.")(
    sandbox
)


def main() -> None:
    """Entry point of the ``freshforce`` console script."""
    if not sys.stdout.isatty() and "COLUMNS" not in os.environ:
        # typer reads TERMINAL_WIDTH when it loads its help renderer, which only help needs.
        os.environ.setdefault("TERMINAL_WIDTH", str(_PIPED_HELP_WIDTH))
    app()


if __name__ == "__main__":
    main()
