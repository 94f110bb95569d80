"""``freshforce db``: upgrade the schema, show its revision, re-encrypt tokens under a new key.

The store is imported inside each command, so registering them costs nothing at start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from freshforce.commands.context import cli_context, print_json, run
from freshforce.envvars import ENV_PREFIX

if TYPE_CHECKING:
    from freshforce.settings import Settings

__all__ = ["app"]

app = typer.Typer(name="db", help="Manage the store's database.", no_args_is_help=True)

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON instead of text.", envvar=f"{ENV_PREFIX}JSON")
]


@app.command()
def upgrade(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Bring the database to the newest schema (safe to run again or from several hosts)."""
    from freshforce.commands.store import safe_url  # noqa: PLC0415 - see module doc
    from freshforce.store import migrate  # noqa: PLC0415 - same

    cli = cli_context(ctx)
    url = cli.settings.database_url

    async def work() -> tuple[str | None, str | None]:
        before = await migrate.current(url)
        await migrate.upgrade(url)
        return before, await migrate.current(url)

    before, revision = run(cli, work, database_url=url)
    report = {
        "database": safe_url(url),
        "from": before,
        "revision": revision,
        "migrated": before != revision,
    }
    if as_json:
        print_json(report)
        return
    if before == revision:
        cli.stdout.print(f"{report['database']} is already at revision {revision} (newest)")
    else:
        cli.stdout.print(
            f"{report['database']} migrated from revision {before or 'none (empty)'} "
            f"to {revision} (newest)"
        )


@app.command()
def current(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Show the database's schema revision and the newest one this version knows."""
    from freshforce.commands.store import safe_url  # noqa: PLC0415 - see module doc
    from freshforce.store import migrate  # noqa: PLC0415 - same

    cli = cli_context(ctx)
    url = cli.settings.database_url
    revision = run(cli, lambda: migrate.current(url), database_url=url)
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
    count = run(cli, lambda: _rotate(settings), database_url=settings.database_url)
    if as_json:
        print_json({"rotated": count})
        return
    cli.stdout.print(f"re-encrypted the tokens of {count} connection(s) with the first key")


async def _rotate(settings: Settings) -> int:
    from freshforce.runtime import Runtime  # noqa: PLC0415 - see module doc
    from freshforce.store.connections import rotate_keys  # noqa: PLC0415 - same

    async with await Runtime.open(settings) as runtime, runtime.engine.begin() as db:
        return await rotate_keys(db, runtime.cipher)
