"""``freshforce connections list|show|remove``: stored connections and their health.

Health is what a person needs to tell whether a connection still works: its status (and why it
was paused), when its access token expires, when its tokens were last refreshed, the last error
and its open alerts. Tokens are never shown. Store imports happen inside each command, so
``freshforce --help`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["app"]

app = typer.Typer(help="Stored connections: list, show health, remove.", no_args_is_help=True)

Json = Annotated[
    bool,
    typer.Option("--json", envvar="FRESHFORCE_JSON", help="Print JSON instead of a table."),
]
Name = Annotated[str, typer.Argument(help="The connection id (as given to `connect --name`).")]


async def _health(engine: AsyncEngine, name: str | None) -> list[dict[str, Any]]:
    import sqlalchemy as sa  # noqa: PLC0415 - lazy CLI imports

    from freshforce.store.alerts import list_alerts  # noqa: PLC0415
    from freshforce.store.schema import connections  # noqa: PLC0415

    query = sa.select(
        connections.c.id,
        connections.c.system,
        connections.c.status,
        connections.c.status_reason,
        connections.c.remote_account,
        connections.c.remote_business,
        connections.c.instance_url,
        connections.c.token_expires_at,
        connections.c.token_refreshed_at,
        connections.c.created_at,
        connections.c.updated_at,
    ).order_by(connections.c.id)
    if name is not None:
        query = query.where(connections.c.id == name)
    async with engine.connect() as db:
        rows = (await db.execute(query)).mappings().all()
        found: list[dict[str, Any]] = []
        for row in rows:
            alerts = [
                a for a in await list_alerts(db, connection_id=row["id"]) if not a.resolved_at
            ]
            last = alerts[-1].message if alerts else None
            found.append(
                {
                    **dict(row),
                    "last_error": row["status_reason"] or last,
                    "open_alerts": [
                        {"id": a.id, "at": a.at, "kind": a.kind, "message": a.message}
                        for a in alerts
                    ],
                }
            )
    return found


def _when(value: object) -> str:
    return "-" if value is None else str(value)


@app.command("list")
def list_(ctx: typer.Context, as_json: Json = False) -> None:
    """List connections with their status, token expiry, last refresh and open alerts."""
    from rich.table import Table  # noqa: PLC0415

    from freshforce.commands.context import cli_context, print_json  # noqa: PLC0415
    from freshforce.commands.store import run_with_runtime  # noqa: PLC0415

    found = run_with_runtime(ctx, lambda runtime: _health(runtime.engine, None))
    if as_json:
        print_json(found)
        return
    table = Table("id", "system", "status", "account", "token expires", "last refresh", "alerts")
    for c in found:
        table.add_row(
            c["id"],
            c["system"],
            c["status"],
            c["remote_account"] or "-",
            _when(c["token_expires_at"]),
            _when(c["token_refreshed_at"]),
            str(len(c["open_alerts"])),
        )
    cli_context(ctx).stdout.print(table if found else "no connections")


@app.command()
def show(ctx: typer.Context, name: Name, as_json: Json = False) -> None:
    """Show one connection's health: status, token expiry, last refresh, last error, alerts."""
    from freshforce.commands.context import EXIT_FAILED, cli_context, print_json  # noqa: PLC0415
    from freshforce.commands.store import run_with_runtime  # noqa: PLC0415

    cli = cli_context(ctx)
    found = run_with_runtime(ctx, lambda runtime: _health(runtime.engine, name))
    if not found:
        cli.fail(f"no connection named {name!r}", code=EXIT_FAILED)
    c = found[0]
    if as_json:
        print_json(c)
        return
    lines = [
        f"{c['id']} ({c['system']}): {c['status']}",
        f"  account:        {c['remote_account'] or '-'}"
        + (f", business {c['remote_business']}" if c["remote_business"] else ""),
        f"  instance url:   {c['instance_url'] or '-'}",
        f"  token expires:  {_when(c['token_expires_at'])}",
        f"  last refresh:   {_when(c['token_refreshed_at'])}",
        f"  last error:     {c['last_error'] or '-'}",
        f"  open alerts:    {len(c['open_alerts'])}",
    ]
    lines += [f"    #{a['id']} {a['at']} {a['kind']}: {a['message']}" for a in c["open_alerts"]]
    for line in lines:
        typer.echo(line)


@app.command()
def remove(
    ctx: typer.Context,
    name: Name,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Forget a connection: its tokens and webhook verifiers are deleted from the store."""
    from freshforce.commands.context import EXIT_FAILED, cli_context  # noqa: PLC0415
    from freshforce.commands.store import run_with_runtime  # noqa: PLC0415
    from freshforce.store.connections import forget_connections  # noqa: PLC0415

    cli = cli_context(ctx)
    if not yes and not typer.confirm(f"Remove connection {name!r} and its tokens?"):
        raise typer.Exit(1)

    async def work(engine: AsyncEngine) -> bool:
        async with engine.begin() as db:
            return await forget_connections(db, [name]) > 0

    if not run_with_runtime(ctx, lambda runtime: work(runtime.engine)):
        cli.fail(f"no connection named {name!r}", code=EXIT_FAILED)
    typer.echo(f"removed connection {name}")
