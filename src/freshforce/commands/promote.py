"""``freshforce promote --from qa --to prod [--dry-run]``: move configuration between environments.

Both environments' settings come from the same settings file (their sections); the source's
active version is checked against the target's org first and any problem refuses (exit 2). The
dry run prints per flow what would change in the target (counts, then a sample of records with
their fields before → after) and writes nothing; ``--json`` prints it all for CI. Heavy imports
happen inside the command.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import Progress, TaskID

from freshforce.commands.config_versions import env_settings
from freshforce.commands.context import EXIT_BAD_CONFIG, CliContext, cli_context, print_json, run
from freshforce.envvars import ENV_PREFIX

if TYPE_CHECKING:
    from freshforce.environments.promote import Promotion

__all__ = ["promote"]

_SAMPLE = 5


def promote(
    ctx: typer.Context,
    from_env: Annotated[str, typer.Option("--from", help="The environment to promote from.")],
    to_env: Annotated[str, typer.Option("--to", help="The environment to promote to.")],
    *,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Predict what would change; write nothing.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON instead of text.", envvar=f"{ENV_PREFIX}JSON")
    ] = False,
    author: Annotated[
        str | None,
        typer.Option(help="Who promotes (default: the login name).", envvar=f"{ENV_PREFIX}AUTHOR"),
    ] = None,
    tenant: Annotated[
        str, typer.Option(help="The integration pair to check.", envvar=f"{ENV_PREFIX}TENANT")
    ] = "default",
) -> None:
    """Check the source's active configuration against the target, then promote or predict."""
    from freshforce.environments import current_author  # noqa: PLC0415 - module doc
    from freshforce.environments.promote import promote as run_promotion  # noqa: PLC0415
    from freshforce.runtime import Runtime  # noqa: PLC0415 - same

    cli = cli_context(ctx)
    source, target = env_settings(cli, from_env), env_settings(cli, to_env)
    if source.profile == target.profile:
        cli.fail("--from and --to name the same environment", code=EXIT_BAD_CONFIG)

    async def work() -> Promotion:
        with Progress(console=cli.stderr, transient=True, disable=as_json) as bar:
            tasks: dict[str, TaskID] = {}

            def tick(what: str, count: int) -> None:
                if what not in tasks:
                    tasks[what] = bar.add_task(what, total=None)
                bar.advance(tasks[what], count)

            async with (
                await Runtime.open(source) as src,
                await Runtime.open(target) as dst,
            ):
                return await run_promotion(
                    src,
                    dst,
                    dry_run=dry_run,
                    author=author or current_author(),
                    now=datetime.now(UTC),
                    tenant=tenant,
                    progress=tick,
                )

    result = run(cli, work, database_url=target.database_url)
    if as_json:
        print_json(_as_json(result, dry_run=dry_run))
    else:
        _print(cli, result, dry_run=dry_run)
    if result.problems:
        raise typer.Exit(EXIT_BAD_CONFIG)


def _print(cli: CliContext, result: Promotion, *, dry_run: bool) -> None:
    source = f"{result.source.profile} v{result.source.version}"
    if result.problems:
        for problem in result.problems:
            cli.stdout.print(escape(str(problem)), soft_wrap=True)
        count = len(result.problems)
        cli.stdout.print(
            f"[bold red]refused: {count} problem{'s' if count != 1 else ''} in {result.target}[/]"
        )
        return
    if not dry_run and result.version is not None:
        what = "promoted" if result.created else "unchanged: already active"
        cli.stdout.print(f"{what} {source} to {result.target} v{result.version.version}")
        return
    cli.stdout.print(f"dry run of {source} in {result.target}: nothing written")
    for flow in result.predictions:
        if not flow.predicted:
            cli.stdout.print(f"{flow.flow}: not predicted (decided per change, at run time)")
            continue
        counts = ", ".join(f"{n} {what}" for what, n in sorted(flow.counts.items())) or "nothing"
        cli.stdout.print(f"{flow.flow}: {counts}")
        for record in flow.records[:_SAMPLE]:
            cli.stdout.print(f"  {escape(record.action)}: {escape(record.record)}", soft_wrap=True)
            for change in record.fields:
                line = f"    {change.field}: {change.before!r} -> {change.after!r}"
                cli.stdout.print(escape(line), soft_wrap=True)
        if len(flow.records) > _SAMPLE:
            cli.stdout.print(f"  ... and {len(flow.records) - _SAMPLE} more (--json lists all)")


def _as_json(result: Promotion, *, dry_run: bool) -> dict[str, object]:
    return {
        "source": {"profile": result.source.profile, "version": result.source.version},
        "target": result.target,
        "dry_run": dry_run,
        "ok": not result.problems,
        "problems": [p.as_dict() for p in result.problems],
        "version": result.version.version if result.version is not None else None,
        "flows": [
            {
                "flow": f.flow,
                "predicted": f.predicted,
                "counts": dict(f.counts),
                "records": [
                    {
                        "record": r.record,
                        "action": r.action,
                        "fields": [
                            {"field": c.field, "before": c.before, "after": c.after}
                            for c in r.fields
                        ],
                    }
                    for r in f.records
                ],
            }
            for f in result.predictions
        ],
    }
