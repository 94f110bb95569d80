"""``freshforce config apply / history / diff / rollback``: the versions an environment ran.

Each command works on the store of the profile chosen with ``--env`` (default: ``--profile``);
a running ``freshforce run`` or ``worker`` of that environment picks up what ``apply`` and
``rollback`` make active within ``config_reload_seconds``. Heavy imports happen inside each
command.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from freshforce.commands.context import EXIT_BAD_CONFIG, CliContext, cli_context, print_json, run
from freshforce.envvars import ENV_PREFIX

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from freshforce.settings import Settings
    from freshforce.store.config_versions import ConfigVersion

__all__ = ["apply", "diff", "env_settings", "history", "rollback"]

T = TypeVar("T")

EnvOption = Annotated[
    str | None,
    typer.Option(
        "--env",
        help="Environment (profile) whose store to use (default: --profile).",
        envvar=f"{ENV_PREFIX}ENV",
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON instead of text.", envvar=f"{ENV_PREFIX}JSON")
]
DirectoryOption = Annotated[
    Path | None,
    typer.Option("--dir", help="Mapping directory (default: the config_dir setting)."),
]


def env_settings(cli: CliContext, env: str | None) -> Settings:
    """Return the settings of environment ``env`` (the chosen profile when None)."""
    if env is None:
        return cli.settings
    from freshforce.errors import ConfigError  # noqa: PLC0415 - see module doc
    from freshforce.settings import load_settings  # noqa: PLC0415 - same

    cli.settings  # noqa: B018 - the first load configures logging
    try:
        return load_settings(env, cli.config_file)
    except ConfigError as exc:
        cli.fail(exc.message, code=EXIT_BAD_CONFIG)


def _with_engine(
    cli: CliContext, settings: Settings, work: Callable[[AsyncEngine], Awaitable[T]]
) -> T:
    from freshforce.store.engine import create_engine  # noqa: PLC0415 - see module doc
    from freshforce.store.migrate import prepare_database  # noqa: PLC0415 - same

    async def main() -> T:
        await prepare_database(settings.database_url, auto_migrate=settings.auto_migrate)
        engine = create_engine(settings.database_url)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    return run(cli, main, database_url=settings.database_url)


def apply(
    ctx: typer.Context,
    message: Annotated[str, typer.Option("-m", "--message", help="Why; kept with the version.")],
    env: EnvOption = None,
    directory: DirectoryOption = None,
    author: Annotated[
        str | None,
        typer.Option(help="Who applies (default: the login name).", envvar=f"{ENV_PREFIX}AUTHOR"),
    ] = None,
) -> None:
    """Validate the mapping directory and record it as the environment's active version."""
    from freshforce.environments import apply_directory, current_author  # noqa: PLC0415
    from freshforce.errors import ConfigError  # noqa: PLC0415
    from freshforce.mapping import MappingConfigError  # noqa: PLC0415

    cli = cli_context(ctx)
    settings = env_settings(cli, env)
    source = directory or settings.config_dir

    async def work(engine: AsyncEngine) -> tuple[ConfigVersion, bool]:
        try:
            return await apply_directory(
                engine,
                settings,
                directory=source,
                author=author or current_author(),
                message=message,
                now=datetime.now(UTC),
            )
        except MappingConfigError as exc:
            msg = f"{exc.message}\nnothing applied; fix the file(s) in {source}"
            raise ConfigError(msg) from None

    version, created = _with_engine(cli, settings, work)
    _say_applied(cli, version, created=created)


def rollback(
    ctx: typer.Context,
    version: Annotated[int, typer.Argument(help="The version whose files to run again.", min=1)],
    env: EnvOption = None,
    author: Annotated[
        str | None,
        typer.Option(
            help="Who rolls back (default: the login name).", envvar=f"{ENV_PREFIX}AUTHOR"
        ),
    ] = None,
) -> None:
    """Make an earlier version's files active again (recorded as a new version)."""
    from freshforce.environments import current_author  # noqa: PLC0415 - see module doc
    from freshforce.environments import rollback as roll_back  # noqa: PLC0415 - same

    cli = cli_context(ctx)
    settings = env_settings(cli, env)

    async def work(engine: AsyncEngine) -> tuple[ConfigVersion, bool]:
        return await roll_back(
            engine, settings, version, author=author or current_author(), now=datetime.now(UTC)
        )

    found, created = _with_engine(cli, settings, work)
    _say_applied(cli, found, created=created)


def _say_applied(cli: CliContext, version: ConfigVersion, *, created: bool) -> None:
    what = "applied" if created else "unchanged: already active as"
    cli.stdout.print(
        f"{what} {version.profile} v{version.version} ({version.checksum[:12]})", soft_wrap=True
    )


def history(ctx: typer.Context, env: EnvOption = None, as_json: JsonOption = False) -> None:
    """List the environment's configuration versions, newest first."""
    from freshforce.store.config_versions import list_versions  # noqa: PLC0415 - module doc

    cli = cli_context(ctx)
    settings = env_settings(cli, env)

    async def work(engine: AsyncEngine) -> list[ConfigVersion]:
        async with engine.connect() as conn:
            return await list_versions(conn, settings.profile)

    versions = _with_engine(cli, settings, work)
    if as_json:
        print_json([_as_dict(v) for v in versions])
        return
    if not versions:
        cli.stdout.print(f"no configuration version in {settings.profile} yet: run config apply")
        return
    table = Table("version", "active", "applied at", "by", "checksum", "message")
    for v in versions:
        when = v.created_at.strftime("%Y-%m-%d %H:%M:%S")
        active = "*" if v.active else ""
        table.add_row(
            str(v.version), active, when, escape(v.author), v.checksum[:12], escape(v.message)
        )
    cli.stdout.print(table)


def diff(
    ctx: typer.Context,
    old: Annotated[str, typer.Argument(help="A version number, or 'active'.")] = "active",
    new: Annotated[str, typer.Argument(help="A version number, or 'dir' (the directory).")] = "dir",
    *,
    env: EnvOption = None,
    directory: DirectoryOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show what changes between two versions, per flow, per rule and per named value."""
    from freshforce.environments.versions import snapshot  # noqa: PLC0415 - module doc
    from freshforce.mapping.diff import diff_snapshots  # noqa: PLC0415 - same
    from freshforce.store.config_versions import active_version, get_version  # noqa: PLC0415

    cli = cli_context(ctx)
    settings = env_settings(cli, env)

    async def files_of(engine: AsyncEngine, which: str) -> dict[str, str]:
        if which == "dir":
            return snapshot(directory or settings.config_dir)
        async with engine.connect() as conn:
            if which == "active":
                found = await active_version(conn, settings.profile)
            elif which.isdigit():
                found = await get_version(conn, settings.profile, int(which))
            else:
                cli.fail(f"{which!r}: give a version number, 'active' or 'dir'", code=2)
        if found is None:
            cli.fail(f"profile {settings.profile} has no configuration version {which}", code=1)
        return dict(found.files)

    async def work(engine: AsyncEngine) -> tuple[dict[str, str], dict[str, str]]:
        return await files_of(engine, old), await files_of(engine, new)

    before, after = _with_engine(cli, settings, work)
    changes = diff_snapshots(before, after)
    if as_json:
        print_json([vars(change) for change in changes])
        return
    for change in changes:
        cli.stdout.print(escape(str(change)), soft_wrap=True)
    if not changes:
        cli.stdout.print(f"no difference between {old} and {new}")


def _as_dict(version: ConfigVersion) -> dict[str, object]:
    return {
        "profile": version.profile,
        "version": version.version,
        "active": version.active,
        "checksum": version.checksum,
        "author": version.author,
        "created_at": version.created_at.isoformat(),
        "message": version.message,
        "files": sorted(version.files),
    }
