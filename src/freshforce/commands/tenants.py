"""``freshforce tenants list|remove``: the integration pairs one deployment serves.

A tenant is one integration pair: one FreshBooks account and one Salesforce org, each a stored
connection (``freshforce connect freshbooks|salesforce --tenant NAME``; tokens encrypted at rest
like every connection). ``list`` shows each tenant's connections, whether its pair is complete
and its pending jobs; ``remove`` forgets a tenant's connections (tokens, webhook verifiers) and
its pending jobs, keeping its links and history so that connecting it again resumes where it
stopped. A running service starts watching a newly connected tenant within
``TENANT_SCAN_SECONDS``; a removed tenant's polls fail (logged) until the service restarts.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["app"]

app = typer.Typer(help="Integration pairs (tenants): list, remove.", no_args_is_help=True)

Json = Annotated[
    bool,
    typer.Option("--json", envvar="FRESHFORCE_JSON", help="Print JSON instead of a table."),
]
Name = Annotated[str, typer.Argument(help="The tenant (as given to `connect --tenant`).")]


async def tenant_rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    """Return each tenant with its connections by system, paired or not, and pending jobs."""
    import sqlalchemy as sa  # noqa: PLC0415 - lazy CLI imports

    from freshforce.store.queue import JobStatus, status_is  # noqa: PLC0415
    from freshforce.store.schema import connections, jobs  # noqa: PLC0415

    found: dict[str, dict[str, Any]] = {}
    async with engine.connect() as db:
        rows = (
            await db.execute(
                sa.select(connections.c.tenant, connections.c.system, connections.c.id).order_by(
                    connections.c.tenant, connections.c.id
                )
            )
        ).all()
        pending: dict[str, int] = dict(
            (
                await db.execute(
                    sa.select(jobs.c.tenant, sa.func.count())
                    .where(status_is(jobs.c.status, JobStatus.PENDING))
                    .group_by(jobs.c.tenant)
                )
            ).all()
        )
    for tenant, system, name in rows:
        entry = found.setdefault(tenant, {"tenant": tenant, "freshbooks": [], "salesforce": []})
        entry[system].append(name)
    for entry in found.values():
        entry["paired"] = len(entry["freshbooks"]) == 1 and len(entry["salesforce"]) == 1
        entry["pending_jobs"] = int(pending.get(entry["tenant"], 0))
    return list(found.values())


@app.command("list")
def list_(ctx: typer.Context, as_json: Json = False) -> None:
    """List the tenants: their connections, whether the pair is complete, pending jobs."""
    from freshforce.commands.store import run_with_runtime  # noqa: PLC0415 - lazy CLI imports

    found = run_with_runtime(ctx, lambda runtime: tenant_rows(runtime.engine))
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return
    if not found:
        typer.echo("no tenants: connect one with `freshforce connect freshbooks --tenant NAME`")
        return
    for t in found:
        state = "paired" if t["paired"] else "incomplete"
        fb = ",".join(t["freshbooks"]) or "-"
        sf = ",".join(t["salesforce"]) or "-"
        typer.echo(
            f"{t['tenant']}  freshbooks={fb}  salesforce={sf}  {state}  "
            f"pending_jobs={t['pending_jobs']}"
        )


async def remove_tenant(engine: AsyncEngine, tenant: str) -> list[str]:
    """Delete ``tenant``'s connections, their webhook verifiers and its pending jobs."""
    import sqlalchemy as sa  # noqa: PLC0415 - lazy CLI imports

    from freshforce.store.connections import forget_connections  # noqa: PLC0415
    from freshforce.store.queue import JobStatus, status_is  # noqa: PLC0415
    from freshforce.store.schema import connections, jobs  # noqa: PLC0415

    async with engine.begin() as db:
        names = list(
            (
                await db.execute(sa.select(connections.c.id).where(connections.c.tenant == tenant))
            ).scalars()
        )
        if names:
            await forget_connections(db, names)
            await db.execute(
                sa.delete(jobs).where(
                    jobs.c.tenant == tenant, status_is(jobs.c.status, JobStatus.PENDING)
                )
            )
    return names


@app.command()
def remove(
    ctx: typer.Context,
    name: Name,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Forget a tenant: its connections' tokens and verifiers, and its pending jobs."""
    from freshforce.commands.context import EXIT_FAILED, cli_context  # noqa: PLC0415
    from freshforce.commands.store import run_with_runtime  # noqa: PLC0415

    cli = cli_context(ctx)
    if not yes and not typer.confirm(f"Remove tenant {name!r}, its connections and pending jobs?"):
        raise typer.Exit(1)
    gone = run_with_runtime(ctx, lambda runtime: remove_tenant(runtime.engine, name))
    if not gone:
        cli.fail(f"no tenant named {name!r} (no connection has it)", code=EXIT_FAILED)
    typer.echo(f"removed tenant {name}: connections {', '.join(gone)}")
