"""The ``freshforce`` command line: argument checks, then one ``asyncio.run`` per command."""

from __future__ import annotations

import typer
from rich.console import Console

from freshforce import __version__
from freshforce.commands import jobs, worker

app = typer.Typer(
    name="freshforce",
    help="Keep FreshBooks and Salesforce in step, in near real time.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
app.add_typer(worker.app, name="worker")
app.add_typer(jobs.app, name="jobs")


@app.command()
def version() -> None:
    """Print the installed version."""
    console.print(__version__)


@app.command()
def demo() -> None:
    """Run the guided demo: sandboxes, engine and dashboard on embedded SQLite."""
    console.print("freshforce demo: nothing to start yet.")


def main() -> None:
    """Entry point of the ``freshforce`` console script."""
    app()
