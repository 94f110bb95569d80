"""``freshforce users``: add, remove, re-password dashboard users; give them API tokens.

Passwords are asked for twice, hidden, on the terminal (or read from stdin when it is not one);
only their argon2 hash is stored. Imports of the store and the hasher happen inside each command,
so ``freshforce --help`` stays fast.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["app"]

app = typer.Typer(help="Dashboard users: add, remove, change a password.", no_args_is_help=True)


DATABASE_URL_ENVVAR = "FRESHFORCE_DATABASE_URL"  # as commands/store.py, without its imports


class RoleChoice(StrEnum):
    """The roles a user can have."""

    VIEWER = "viewer"
    OPERATOR = "operator"


DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        envvar=DATABASE_URL_ENVVAR,
        help="The store's database URL (default: the settings' database_url).",
    ),
]
Username = Annotated[str, typer.Argument(help="Login name (1-64 characters).")]


def _ask_password() -> str:
    from freshforce.web.passwords import check_new_password  # noqa: PLC0415 - argon2 is heavy

    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        check_new_password(password)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="password") from None
    return password


def _check_name(username: str) -> None:
    if not 1 <= len(username) <= 64 or username != username.strip():  # noqa: PLR2004
        msg = "1-64 characters, no leading or trailing spaces"
        raise typer.BadParameter(msg, param_hint="USERNAME")


@app.command()
def add(
    ctx: typer.Context,
    username: Username,
    role: Annotated[
        RoleChoice, typer.Option(help="viewer looks; operator also replays, edits, discards.")
    ] = RoleChoice.VIEWER,
    database_url: DatabaseUrl = None,
) -> None:
    """Add a dashboard user; asks for the password."""
    from freshforce.commands.store import run_with_runtime  # noqa: PLC0415 - lazy CLI imports
    from freshforce.store.users import Role, add_user  # noqa: PLC0415
    from freshforce.web.passwords import hash_password  # noqa: PLC0415

    _check_name(username)
    password_hash = hash_password(_ask_password())

    async def work(engine: AsyncEngine) -> int | None:
        async with engine.begin() as conn:
            return await add_user(
                conn,
                username=username,
                password_hash=password_hash,
                role=Role(role.value),
                now=datetime.now(UTC),
            )

    if (
        run_with_runtime(ctx, lambda runtime: work(runtime.engine), database_url=database_url)
        is None
    ):
        typer.echo(f"error: a user called {username!r} exists already", err=True)
        raise typer.Exit(1)
    typer.echo(f"added {username} ({role.value})")


@app.command()
def remove(ctx: typer.Context, username: Username, database_url: DatabaseUrl = None) -> None:
    """Remove a dashboard user; their sessions stop working at once."""
    from freshforce.commands.store import run_with_runtime  # noqa: PLC0415 - lazy CLI imports
    from freshforce.store.users import remove_user  # noqa: PLC0415

    async def work(engine: AsyncEngine) -> bool:
        async with engine.begin() as conn:
            return await remove_user(conn, username)

    if not run_with_runtime(ctx, lambda runtime: work(runtime.engine), database_url=database_url):
        typer.echo(f"error: no user called {username!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"removed {username}")


@app.command()
def passwd(
    ctx: typer.Context,
    username: Username,
    role: Annotated[RoleChoice | None, typer.Option(help="Also change the role.")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Set a new password (and optionally role); the user's other sessions end."""
    from freshforce.commands.store import run_with_runtime  # noqa: PLC0415 - lazy CLI imports
    from freshforce.store.users import Role, set_password  # noqa: PLC0415
    from freshforce.web.passwords import hash_password  # noqa: PLC0415

    password_hash = hash_password(_ask_password())

    async def work(engine: AsyncEngine) -> bool:
        async with engine.begin() as conn:
            return await set_password(
                conn,
                username=username,
                password_hash=password_hash,
                role=None if role is None else Role(role.value),
                now=datetime.now(UTC),
            )

    if not run_with_runtime(ctx, lambda runtime: work(runtime.engine), database_url=database_url):
        typer.echo(f"error: no user called {username!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"changed the password of {username}")


@app.command("list")
def list_command(ctx: typer.Context, database_url: DatabaseUrl = None) -> None:
    """List users and their roles (never their password hashes)."""
    from freshforce.commands.store import run_with_runtime  # noqa: PLC0415 - lazy CLI imports
    from freshforce.store.users import User, list_users  # noqa: PLC0415

    async def work(engine: AsyncEngine) -> list[User]:
        async with engine.connect() as conn:
            return await list_users(conn)

    for user in run_with_runtime(
        ctx, lambda runtime: work(runtime.engine), database_url=database_url
    ):
        token_state = "api-token" if user.has_api_token else ""
        typer.echo(f"{user.username}\t{user.role.value}\t{token_state}".rstrip())


@app.command()
def token(
    ctx: typer.Context,
    username: Username,
    revoke: Annotated[bool, typer.Option("--revoke", help="Remove the user's token.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Make a new API token for a user (printed once; replaces the old one), or revoke it."""
    from freshforce.commands.store import run_with_runtime  # noqa: PLC0415 - lazy CLI imports
    from freshforce.store.users import set_api_token  # noqa: PLC0415
    from freshforce.web.passwords import new_api_token, token_hash  # noqa: PLC0415

    secret = None if revoke else new_api_token()

    async def work(engine: AsyncEngine) -> bool:
        async with engine.begin() as conn:
            return await set_api_token(
                conn,
                username=username,
                token_hash=None if secret is None else token_hash(secret),
                now=datetime.now(UTC),
            )

    if not run_with_runtime(ctx, lambda runtime: work(runtime.engine), database_url=database_url):
        typer.echo(f"error: no user called {username!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked the API token of {username}" if secret is None else secret)
