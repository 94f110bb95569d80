"""``freshforce config``: show the effective settings (secrets masked) and make new keys.

Settings and the store are imported inside each command, so registering them costs nothing at
start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from freshforce.commands.context import cli_context, print_json
from freshforce.envvars import ENV_PREFIX

if TYPE_CHECKING:
    from freshforce.settings import Settings

__all__ = ["app", "masked_settings"]

app = typer.Typer(
    name="config", help="Inspect settings and make encryption keys.", no_args_is_help=True
)

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON instead of a table.", envvar=f"{ENV_PREFIX}JSON")
]


@app.command()
def show(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Show the settings in effect, after the file, the profile and the environment."""
    cli = cli_context(ctx)
    values = masked_settings(cli.settings)
    if as_json:
        print_json(values)
        return
    table = Table("setting", "value", "environment variable")
    for name, value in values.items():
        table.add_row(name, str(value), f"{ENV_PREFIX}{name.upper()}")
    cli.stdout.print(table)


@app.command("new-key")
def new_key_command() -> None:
    """Print a new Fernet key for encryption_keys (put it first to start a key rotation)."""
    from freshforce.store.crypto import new_key  # noqa: PLC0415 - see module doc

    typer.echo(new_key())


def masked_settings(settings: Settings) -> dict[str, object]:
    """Return the settings as plain values with every secret masked."""
    from freshforce.commands.store import safe_url  # noqa: PLC0415 - see module doc

    values = settings.model_dump(mode="json")
    values["database_url"] = safe_url(settings.database_url)
    values["log_json"] = settings.json_logs
    return dict(values)
