"""``freshforce sync --initial [--dry-run]`` and ``freshforce reconcile [--repair]``.

Both read the mapping from the configuration directory (a bad file stops them with its
file:line, exit 2) and the tenant's two connections, then work on whole systems
(flows/clients_bulk.py). The first sync prints what it would link, create and update on each
side with a sample of each; without ``--dry-run`` it then does exactly that, with a progress bar.
Reconcile prints the drift per object; ``--repair`` enqueues the jobs that fix it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from freshforce.commands.context import cli_context

if TYPE_CHECKING:
    from collections import Counter

    from freshforce.commands.context import CliContext
    from freshforce.mapping import FlowMap
    from freshforce.runtime import Runtime

__all__ = ["reconcile", "sync"]

Tenant = Annotated[
    str, typer.Option(envvar="FRESHFORCE_TENANT", help="The integration pair (tenant) to work on.")
]


def _clients_map(runtime: Runtime) -> FlowMap:
    from freshforce.errors import ConfigError  # noqa: PLC0415 - lazy CLI imports
    from freshforce.mapping import load_maps  # noqa: PLC0415

    settings = runtime.settings
    maps = load_maps(settings.config_dir, profile=settings.profile)
    if "clients" not in maps.flows:
        msg = f"{settings.config_dir}: no clients.yaml; `freshforce config init` writes one"
        raise ConfigError(msg)
    return maps["clients"]


def _table(
    cli: CliContext, title: str, counts: Counter[str], samples: dict[str, list[str]]
) -> None:
    from rich.table import Table  # noqa: PLC0415 - lazy CLI imports

    table = Table(title=title)
    table.add_column("what")
    table.add_column("records", justify="right")
    table.add_column("for example")
    for what, count in counts.most_common():
        table.add_row(what, str(count), "; ".join(samples.get(what, [])))
    cli.stdout.print(table)


def sync(
    ctx: typer.Context,
    *,
    initial: Annotated[
        bool, typer.Option("--initial", help="Link up two populated systems (the first sync).")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only say what would be linked, created, updated.")
    ] = False,
    tenant: Tenant = "default",
) -> None:
    """Link up both systems: match what exists, create what is missing, settle differences."""
    cli = cli_context(ctx)
    if not initial:
        cli.fail("say --initial: ongoing sync runs as a service (`freshforce run`)", code=2)

    async def work(runtime: Runtime) -> None:
        from rich.progress import Progress, TaskID  # noqa: PLC0415 - lazy CLI imports

        from freshforce.commands.sync_mirrors import backfill_mirrors  # noqa: PLC0415
        from freshforce.flows.clients_bulk import apply_initial, plan_initial  # noqa: PLC0415

        flow = _clients_map(runtime)
        pair = await runtime.pair(tenant)
        with Progress(console=cli.stderr, transient=True) as bar:
            tasks: dict[str, TaskID] = {}

            def tick(what: str, more: int) -> None:
                if what not in tasks:
                    tasks[what] = bar.add_task(what, total=None)
                bar.advance(tasks[what], more)

            plan = await plan_initial(flow, pair, runtime.engine, tenant=tenant, progress=tick)
            _table(cli, "first sync: the plan", plan.report.counts, plan.report.samples)
            if dry_run:
                return
            done = await apply_initial(plan, runtime.engine, progress=tick)
            _table(cli, "first sync: done", done.counts, done.samples)
            for error in done.errors[:20]:
                cli.stdout.print(f"[yellow]not synced:[/] {error}", soft_wrap=True)
            await backfill_mirrors(cli, runtime, pair, tick)  # mirror_<name>.yaml maps

    from freshforce.commands.store import run_with_runtime  # noqa: PLC0415 - lazy CLI imports

    run_with_runtime(ctx, work)


def reconcile(
    ctx: typer.Context,
    *,
    repair: Annotated[
        bool, typer.Option("--repair", help="Enqueue the jobs that fix the drift.")
    ] = False,
    tenant: Tenant = "default",
) -> None:
    """Compare both systems for every link and report drift; exit 1 when there is any."""
    cli = cli_context(ctx)

    async def work(runtime: Runtime) -> int:
        from freshforce.flows.clients_bulk import reconcile as compare  # noqa: PLC0415

        flow = _clients_map(runtime)
        pair = await runtime.pair(tenant)
        queue = runtime.queue() if repair else None
        drift = await compare(flow, pair, runtime.engine, tenant=tenant, queue=queue)
        if not drift.total:
            cli.stdout.print("[green]no drift[/]: every link's records agree")
            return 0
        _table(cli, "clients: drift", drift.counts, drift.samples)
        if repair:
            cli.stdout.print(f"enqueued {len(drift.repairs)} repair jobs")
        return 1

    from freshforce.commands.store import run_with_runtime  # noqa: PLC0415 - lazy CLI imports

    if run_with_runtime(ctx, work) and not repair:
        raise typer.Exit(1)
