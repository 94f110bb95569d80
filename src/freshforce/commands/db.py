"""``freshforce db``: upgrade the schema, show its revision, re-encrypt tokens under a new key."""

from __future__ import annotations

from typing import Annotated

import typer

from freshforce.commands.context import cli_context, print_json, run
from freshforce.commands.store import safe_url
from freshforce.runtime import Runtime
from freshforce.settings import ENV_PREFIX, Settings
from freshforce.store import migrate
from freshforce.store.connections import rotate_keys

__all__ = ["app"]

app = typer.Typer(name="db", help="Manage the store's database.", no_args_is_help=True)

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON instead of text.", envvar=f"{ENV_PREFIX}JSON")
]


@app.command()
def upgrade(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Bring the database to the newest schema (safe to run again or from several hosts)."""
    cli = cli_context(ctx)
    url = cli.settings.database_url

    async def work() -> str | None:
        await migrate.upgrade(url)
        return await migrate.current(url)

    revision = run(cli, work)
    report = {"database": safe_url(url), "revision": revision}
    if as_json:
        print_json(report)
        return
    cli.stdout.print(f"{report['database']} is at revision {revision} (newest)")


@app.command()
def current(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Show the database's schema revision and the newest one this version knows."""
    cli = cli_context(ctx)
    url = cli.settings.database_url
    revision = run(cli, lambda: migrate.current(url))
    head = migrate.head()
    report = {"database": safe_url(url), "revision": revision, "head": head}
    if as_json:
        print_json(report)
        return
    state = "up to date" if revision == head else "needs `freshforce db upgrade`"
    cli.stdout.print(f"{report['database']}: revision {revision or 'none'}, newest {head}: {state}")


@app.command("rotate-keys")
def rotate_keys_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Re-encrypt every stored token with the first of encryption_keys."""
    cli = cli_context(ctx)
    settings = cli.settings
    count = run(cli, lambda: _rotate(settings))
    if as_json:
        print_json({"rotated": count})
        return
    cli.stdout.print(f"re-encrypted the tokens of {count} connection(s) with the first key")


async def _rotate(settings: Settings) -> int:
    async with await Runtime.open(settings) as runtime, runtime.engine.begin() as db:
        return await rotate_keys(db, runtime.cipher)
