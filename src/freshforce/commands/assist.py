"""``freshforce map …`` and ``freshforce anomalies …``: suggestions and held writes, reviewed.

``suggest FLOW`` reads the Salesforce describe, a sample of FreshBooks records and the records of
linked pairs, and shows the top three Salesforce fields for each unmapped FreshBooks field with
their reasons; ``--apply`` writes each field's first pick into the flow file (with a comment)
and keeps it as accepted. ``accept``/``reject`` settle one pair by hand. Decisions are kept per
tenant and rank first (or never again) next time. ``anomalies list|accept|reject`` reviews the
writes the anomaly guard held. Exit codes: 0 done, 1 failed or unknown, 2 bad config.
"""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING, Annotated

import typer

from freshforce.commands.context import cli_context, print_json
from freshforce.envvars import ENV_PREFIX

if TYPE_CHECKING:
    from freshforce.assist.suggest import FlowSuggestions
    from freshforce.commands.context import CliContext
    from freshforce.runtime import Runtime
    from freshforce.store.anomalies import Anomaly

__all__ = ["anomalies_app", "map_app"]

map_app = typer.Typer(
    help="Mapping suggestions: ranked, explained, applied to the flow file, learned from.",
    no_args_is_help=True,
)

Tenant = Annotated[
    str,
    typer.Option(envvar=f"{ENV_PREFIX}TENANT", help="The integration pair (tenant) to look at."),
]
Flow = Annotated[str, typer.Argument(help="The flow: clients, invoices or payments.")]
Source = Annotated[str, typer.Argument(help="The FreshBooks field, e.g. client.mob_phone.")]
Target = Annotated[str, typer.Argument(help="The Salesforce field, e.g. Contact.MobilePhone.")]
Json = Annotated[
    bool, typer.Option("--json", envvar=f"{ENV_PREFIX}JSON", help="Print JSON instead of text.")
]


def _show(cli: CliContext, found: FlowSuggestions) -> None:
    cli.stdout.print(
        f"[bold]{found.flow}[/]: {len(found.suggestions)} unmapped fields with candidates "
        f"({found.sampled} records sampled, {found.linked} linked pairs compared)"
    )
    picks = found.picks()
    for source, candidates in found.suggestions.items():
        cli.stdout.print(f"\n[bold]{source}[/]")
        pick = picks.get(source)
        for n, c in enumerate(candidates, 1):
            mark = "  [bold](pick)[/]" if c == pick else ""
            cli.stdout.print(
                f"  {n}. {c.target}  [dim]{c.score:.2f}[/]  {'; '.join(c.reasons)}{mark}"
            )
        if pick is None:
            cli.stdout.print(
                "  [dim](no pick: under the proposal score, or its target went to a field "
                "that wants it more; --apply skips it)[/]"
            )
    if found.unmatched:
        cli.stdout.print(f"\nno good candidate: {', '.join(found.unmatched)}", soft_wrap=True)


def _as_json(found: FlowSuggestions) -> dict[str, object]:
    return {
        "flow": found.flow,
        "sampled": found.sampled,
        "linked": found.linked,
        "suggestions": {
            source: [
                {"target": c.target, "score": c.score, "reasons": list(c.reasons)}
                for c in candidates
            ]
            for source, candidates in found.suggestions.items()
        },
        "unmatched": list(found.unmatched),
        "picks": {source: c.target for source, c in found.picks().items()},
    }


@map_app.command("suggest")
def suggest_command(
    ctx: typer.Context,
    flow: Flow,
    *,
    apply: Annotated[
        bool, typer.Option("--apply", help="Write each first pick into the flow file.")
    ] = False,
    tenant: Tenant = "default",
    as_json: Json = False,
) -> None:
    """Rank Salesforce fields for each unmapped FreshBooks field of FLOW, with reasons."""
    cli = cli_context(ctx)

    async def work(runtime: Runtime) -> None:
        from freshforce.assist.accept import accept, flow_file  # noqa: PLC0415 - lazy CLI imports
        from freshforce.assist.suggest import suggest  # noqa: PLC0415
        from freshforce.mapping import load_maps  # noqa: PLC0415
        from freshforce.store.scope import Scope  # noqa: PLC0415

        settings = runtime.settings
        if apply:
            flow_file(settings.config_dir, flow)
        maps = load_maps(settings.config_dir, profile=settings.profile)
        if flow not in maps.flows:
            cli.fail(f"unknown flow {flow!r}: one of {', '.join(maps.flows)}", code=2)
        found = await suggest(maps[flow], await runtime.pair(tenant), runtime.engine, tenant=tenant)
        if as_json:
            print_json(_as_json(found))
        else:
            _show(cli, found)
        picks = list(found.picks().values())
        if apply and picks:
            path = await accept(
                runtime.engine,
                Scope(tenant, flow),
                picks,
                config_dir=settings.config_dir,
                profile=settings.profile,
                by=getpass.getuser(),
            )
            cli.stderr.print(f"wrote {len(picks)} rules to {path}")

    from freshforce.commands.store import run_with_runtime  # noqa: PLC0415 - lazy CLI imports

    run_with_runtime(ctx, work)


@map_app.command("accept")
def accept_command(
    ctx: typer.Context, flow: Flow, source: Source, target: Target, tenant: Tenant = "default"
) -> None:
    """Write SOURCE -> TARGET into FLOW's file as a rule and keep the decision."""
    cli = cli_context(ctx)

    async def work(runtime: Runtime) -> None:
        from freshforce.assist.accept import accept  # noqa: PLC0415 - lazy CLI imports
        from freshforce.assist.scoring import Candidate  # noqa: PLC0415
        from freshforce.store.scope import Scope  # noqa: PLC0415

        pick = Candidate(source, target, 1.0, ("accepted by hand",))
        settings = runtime.settings
        path = await accept(
            runtime.engine,
            Scope(tenant, flow),
            [pick],
            config_dir=settings.config_dir,
            profile=settings.profile,
            by=getpass.getuser(),
        )
        cli.stdout.print(f"accepted {source} -> {target}; rule added to {path}")

    from freshforce.commands.store import run_with_runtime  # noqa: PLC0415 - lazy CLI imports

    if "." not in source or "." not in target:
        cli.fail("name both fields with their object: client.mob_phone Contact.MobilePhone", code=2)
    run_with_runtime(ctx, work)


@map_app.command("reject")
def reject_command(
    ctx: typer.Context, flow: Flow, source: Source, target: Target, tenant: Tenant = "default"
) -> None:
    """Keep that SOURCE -> TARGET is wrong: it is never suggested again for this tenant."""
    cli = cli_context(ctx)

    async def work(runtime: Runtime) -> None:
        from freshforce.assist.accept import reject  # noqa: PLC0415 - lazy CLI imports
        from freshforce.store.scope import Scope  # noqa: PLC0415

        await reject(runtime.engine, Scope(tenant, flow), source, target, by=getpass.getuser())
        cli.stdout.print(f"rejected {source} -> {target}")

    from freshforce.commands.store import run_with_runtime  # noqa: PLC0415 - lazy CLI imports

    run_with_runtime(ctx, work)


anomalies_app = typer.Typer(
    help="Writes held (or flagged) by the anomaly guard: list, accept to write, reject to drop.",
    no_args_is_help=True,
)
AnomalyId = Annotated[int, typer.Argument(help="The anomaly's id (from `anomalies list`).")]


@anomalies_app.command("list")
def anomalies_list(
    ctx: typer.Context,
    *,
    every: Annotated[
        bool, typer.Option("--all", help="Every anomaly, not only the writes waiting.")
    ] = False,
    tenant: Tenant = "default",
    as_json: Json = False,
) -> None:
    """List the held writes waiting for review (or, with --all, every anomaly)."""
    cli = cli_context(ctx)

    async def work(runtime: Runtime) -> None:
        from freshforce.store.anomalies import list_anomalies  # noqa: PLC0415 - lazy CLI imports

        async with runtime.engine.connect() as db:
            found = await list_anomalies(db, tenant, status=None if every else "open")
        if as_json:
            print_json([_anomaly_json(a) for a in found])
            return
        if not found:
            cli.stdout.print(f"no writes waiting for review for tenant {tenant!r}")
        for a in found:
            cli.stdout.print(
                f"[bold]{a.id}[/] {a.status} {a.flow} {a.record_key}: {'; '.join(a.reasons)}",
                soft_wrap=True,
            )

    from freshforce.commands.store import run_with_runtime  # noqa: PLC0415 - lazy CLI imports

    run_with_runtime(ctx, work)


def _anomaly_json(a: Anomaly) -> dict[str, object]:
    return {
        "id": a.id, "flow": a.flow, "record_key": a.record_key, "group": a.grp,
        "action": a.action, "status": a.status, "reasons": list(a.reasons), "write": a.write,
        "decided_by": a.decided_by, "decided_at": a.decided_at, "created_at": a.created_at,
    }  # fmt: skip


def _settle(ctx: typer.Context, anomaly_id: int, tenant: str, *, accept: bool) -> None:
    cli = cli_context(ctx)

    async def work(runtime: Runtime) -> int:
        from freshforce.assist.review import settle  # noqa: PLC0415 - lazy CLI imports

        found = await settle(
            runtime.engine,
            runtime.queue(),
            tenant,
            anomaly_id,
            accept=accept,
            by=getpass.getuser(),
        )
        if found is None:
            cli.stderr.print(f"no held write {anomaly_id} waiting for tenant {tenant!r}")
            return 1
        done = "accepted: the write runs again" if accept else "rejected: not written"
        cli.stdout.print(f"{anomaly_id} {done} ({found.flow} {found.record_key})")
        return 0

    from freshforce.commands.store import run_with_runtime  # noqa: PLC0415 - lazy CLI imports

    raise typer.Exit(run_with_runtime(ctx, work))


@anomalies_app.command("accept")
def anomalies_accept(ctx: typer.Context, anomaly_id: AnomalyId, tenant: Tenant = "default") -> None:
    """Release a held write: it is written by the worker and taught to the baseline."""
    _settle(ctx, anomaly_id, tenant, accept=True)


@anomalies_app.command("reject")
def anomalies_reject(ctx: typer.Context, anomaly_id: AnomalyId, tenant: Tenant = "default") -> None:
    """Drop a held write: it is not written, and not learned."""
    _settle(ctx, anomaly_id, tenant, accept=False)
