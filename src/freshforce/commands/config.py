"""``freshforce config``: show the settings, make keys, write and validate the mapping files.

Settings, the store and the mapping language are imported inside each command, so registering
them costs nothing at start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from freshforce.commands.context import EXIT_BAD_CONFIG, EXIT_FAILED, cli_context, print_json
from freshforce.envvars import ENV_PREFIX

if TYPE_CHECKING:
    from freshforce.commands.context import CliContext
    from freshforce.mapping import MapSet, Problem
    from freshforce.settings import Settings

__all__ = ["app", "masked_settings"]

app = typer.Typer(
    name="config",
    help="Inspect settings, make keys, validate, apply, diff and roll back mapping versions.",
    no_args_is_help=True,
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


DirectoryArgument = Annotated[
    Path | None,
    typer.Argument(help="Mapping directory (default: the config_dir setting, ./freshforce)."),
]


@app.command()
def init(
    ctx: typer.Context,
    directory: DirectoryArgument = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
) -> None:
    """Write commented copies of the shipped mapping files to edit and keep in git."""
    from freshforce.mapping import write_defaults  # noqa: PLC0415  # keeps the CLI start fast

    cli = cli_context(ctx)
    target = directory or cli.settings.config_dir
    try:
        written = write_defaults(target, force=force)
    except FileExistsError as exc:
        cli.fail(f"{exc}: already there; use --force to overwrite", code=EXIT_FAILED)
    except OSError as exc:
        cli.fail(f"{target}: {exc.strerror or exc}", code=EXIT_FAILED)
    for path in written:
        cli.stdout.print(f"wrote {path}")


def _print_valid(cli: CliContext, maps: MapSet, tenants: dict[str, MapSet]) -> None:
    for name, flow in maps.flows.items():
        source, digest = escape(maps.sources[name]), flow.content_hash[:12]
        cli.stdout.print(f"[green]ok[/] {name}: {len(flow.rules)} rules from {source} ({digest})")
    for tenant, their in tenants.items():
        own = [n for n in their.flows if their.sources[n] != maps.sources.get(n)]
        cli.stdout.print(
            f"[green]ok[/] tenant {escape(tenant)}: its own {', '.join(own) or 'nothing'}, "
            "the rest shared"
        )


@app.command()
def validate(
    ctx: typer.Context,
    directory: DirectoryArgument = None,
    as_json: JsonOption = False,
    env: Annotated[
        str | None,
        typer.Option(
            "--env",
            help="Also check against this environment's Salesforce org (its stored connection).",
            envvar=f"{ENV_PREFIX}ENV",
        ),
    ] = None,
) -> None:
    """Check every mapping file, in every profile, at once; exit 2 when anything is wrong.

    With --env, the files are checked for that environment's profile and against its org.
    Each tenant's directory (``tenants/<tenant>/``, over the shared files) is checked too.
    """
    from freshforce.mapping import check_every_profile, check_maps  # noqa: PLC0415  # fast start
    from freshforce.mapping.tenants import (  # noqa: PLC0415  # fast start
        check_every_tenant,
        check_tenant_maps,
    )

    cli = cli_context(ctx)
    target = directory or cli.settings.config_dir
    if env is not None:
        maps, problems = _check_env(cli, env, target)
    else:
        maps, _ = check_maps(target, profile=cli.settings.profile)
        problems = check_every_profile(target)
    for found in check_every_tenant(target).values():
        problems = [*problems, *found]
    tenants, _ = check_tenant_maps(target, profile=cli.settings.profile)
    if as_json:
        flows = {}
        if maps is not None:
            flows = {
                name: {"source": maps.sources[name], "content_hash": flow.content_hash}
                for name, flow in maps.flows.items()
            }
        print_json(
            {
                "directory": str(target),
                "valid": not problems,
                "problems": [problem.as_dict() for problem in problems],
                "flows": flows,
                "tenants": {
                    tenant: {name: their.sources[name] for name in their.flows}
                    for tenant, their in tenants.items()
                },
            }
        )
    elif problems:
        for problem in problems:
            where = (
                f"{problem.file}:{problem.line}:{problem.column}" if problem.line else problem.file
            )
            path = f" [cyan]{escape(problem.path)}[/]" if problem.path else ""
            cli.stdout.print(
                f"[bold]{escape(where)}[/]{path}: {escape(problem.message)}", soft_wrap=True
            )
        count = len(problems)
        cli.stdout.print(f"[bold red]{count} problem{'s' if count != 1 else ''}[/]")
    elif maps is not None:
        _print_valid(cli, maps, tenants)
    if problems:
        raise typer.Exit(EXIT_BAD_CONFIG)


def _check_env(cli: CliContext, env: str, directory: Path) -> tuple[MapSet | None, list[Problem]]:
    from freshforce.commands.config_versions import env_settings  # noqa: PLC0415 - module doc
    from freshforce.commands.context import run  # noqa: PLC0415 - same
    from freshforce.environments.orgcheck import check_environment, environment_pair  # noqa: PLC0415
    from freshforce.mapping import check_maps  # noqa: PLC0415 - same
    from freshforce.runtime import Runtime  # noqa: PLC0415 - same

    settings = env_settings(cli, env)
    maps, problems = check_maps(directory, profile=settings.profile)
    if maps is None:
        return None, problems
    checked = maps

    async def work() -> list[Problem]:
        async with await Runtime.open(settings) as runtime:
            pair = await environment_pair(runtime, "default")
            return await check_environment(checked, pair.salesforce, settings)

    return maps, run(cli, work, database_url=settings.database_url)


def masked_settings(settings: Settings) -> dict[str, object]:
    """Return the settings as plain values with every secret masked."""
    from freshforce.commands.store import safe_url  # noqa: PLC0415 - see module doc

    values = settings.model_dump(mode="json")
    values["database_url"] = safe_url(settings.database_url)
    values["log_json"] = settings.json_logs
    return dict(values)


def _register_versions() -> None:
    from freshforce.commands import config_versions  # noqa: PLC0415 - after `app` exists

    app.command("apply")(config_versions.apply)
    app.command("history")(config_versions.history)
    app.command("diff")(config_versions.diff)
    app.command("rollback")(config_versions.rollback)


_register_versions()
