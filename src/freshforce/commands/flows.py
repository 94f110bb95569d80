"""``freshforce flows list|pause|resume``: a tenant's flow paused (its jobs wait) and resumed.

The update breaker pauses a flow whose writes burst past its usual; an operator may pause one by
hand. While paused, the flow's jobs wait in the queue, unattempted; ``resume`` makes them due
now and resolves the ``<flow>_update_breaker`` alert. Each pause and resume leaves an audit row.
Exit codes: 0 done, 1 nothing to do (already paused, or not paused).
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from freshforce.commands.context import cli_context, print_json
from freshforce.envvars import ENV_PREFIX

if TYPE_CHECKING:
    from freshforce.runtime import Runtime

__all__ = ["flows_app"]

flows_app = typer.Typer(
    help="Paused flows: the update breaker's pauses, and an operator's; pause and resume.",
    no_args_is_help=True,
)
Tenant = Annotated[
    str,
    typer.Option(envvar=f"{ENV_PREFIX}TENANT", help="The integration pair (tenant) to act on."),
]
Flow = Annotated[str, typer.Argument(help="The flow: clients, invoices or payments.")]


@flows_app.command("list")
def flows_list(
    ctx: typer.Context,
    *,
    as_json: Annotated[
        bool, typer.Option("--json", envvar=f"{ENV_PREFIX}JSON", help="Print JSON instead of text.")
    ] = False,
) -> None:
    """List every tenant's paused flows and why."""
    cli = cli_context(ctx)

    async def work(runtime: Runtime) -> None:
        from freshforce.store.pauses import list_pauses  # noqa: PLC0415 - lazy CLI imports

        async with runtime.engine.connect() as db:
            found = await list_pauses(db)
        if as_json:
            print_json([
                {"tenant": p.tenant, "flow": p.flow, "reason": p.reason, "paused_by": p.paused_by,
                 "paused_at": p.paused_at}
                for p in found
            ])  # fmt: skip
            return
        if not found:
            cli.stdout.print("no flow is paused")
        for p in found:
            cli.stdout.print(
                f"[bold]{p.tenant}/{p.flow}[/] paused by {p.paused_by}: {p.reason}", soft_wrap=True
            )

    from freshforce.commands.store import run_with_runtime  # noqa: PLC0415 - lazy CLI imports

    run_with_runtime(ctx, work)


def _act(ctx: typer.Context, flow: str, tenant: str, *, pausing: bool) -> None:
    cli = cli_context(ctx)
    who = getpass.getuser()

    async def work(runtime: Runtime) -> int:
        from freshforce.assist.breaker import pause, resume  # noqa: PLC0415 - lazy CLI imports
        from freshforce.store.audit import record_audit  # noqa: PLC0415

        async with runtime.engine.begin() as db:
            if pausing:
                done = await pause(db, tenant, flow, reason=f"paused by {who}", by=who)
            else:
                done = await resume(db, tenant, flow, by=who)
            if done:
                await record_audit(
                    db, actor=who, action="flow.pause" if pausing else "flow.resume",
                    target=f"flow:{tenant}/{flow}", now=datetime.now(UTC),
                    detail={"tenant": tenant, "flow": flow, "via": "cli"},
                )  # fmt: skip
        if not done:
            state = "already paused" if pausing else "not paused"
            cli.stderr.print(f"{flow} is {state} for tenant {tenant!r}")
            return 1
        news = "paused: its jobs wait" if pausing else "resumed: its waiting jobs run now"
        cli.stdout.print(f"{flow} {news} (tenant {tenant!r})")
        return 0

    from freshforce.commands.store import run_with_runtime  # noqa: PLC0415 - lazy CLI imports

    raise typer.Exit(run_with_runtime(ctx, work))


@flows_app.command("pause")
def flows_pause(ctx: typer.Context, flow: Flow, tenant: Tenant = "default") -> None:
    """Pause FLOW for a tenant: its jobs wait in the queue, unattempted, until resumed."""
    _act(ctx, flow, tenant, pausing=True)


@flows_app.command("resume")
def flows_resume(ctx: typer.Context, flow: Flow, tenant: Tenant = "default") -> None:
    """Resume FLOW for a tenant: its waiting jobs run now and the breaker alert is resolved."""
    _act(ctx, flow, tenant, pausing=False)
