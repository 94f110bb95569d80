"""``freshforce trace KEY``: everything that happened to one business record, in time order.

KEY is a FreshBooks id (``42`` or ``client/42``), a Salesforce id (15 or 18 characters) or an
e-mail address (engine/tracekey.py). The command prints the record's links, then one timeline:
change events, echoes of our own writes that were dropped, jobs and their attempts, every field
written (before → after, with the mapping's transform steps) and conflicts. ``--json`` prints
the same as one JSON object. Exit codes: 0 (an unknown record has an empty trace), 2 a KEY that
names nothing, 1 the store unreachable. Store imports happen when the command runs.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from freshforce.envvars import ENV_PREFIX

if TYPE_CHECKING:
    from rich.console import RenderableType

    from freshforce.runtime import Runtime
    from freshforce.store.conflicts import Conflict
    from freshforce.store.trace import (
        Trace,
        TracedAttempt,
        TracedEvent,
        TracedJob,
        TraceEntry,
        TraceQuery,
    )
    from freshforce.store.writelog import FieldWrite

__all__ = ["trace", "trace_as_dict"]


def trace(
    ctx: typer.Context,
    key: Annotated[
        str,
        typer.Argument(help="A FreshBooks id (42, client/42), a Salesforce id or an e-mail."),
    ],
    flow: Annotated[
        str | None, typer.Option(help="Only this flow's links and jobs (clients, invoices, ...).")
    ] = None,
    tenant: Annotated[
        str, typer.Option(envvar=f"{ENV_PREFIX}TENANT", help="The integration pair (tenant).")
    ] = "default",
    as_json: Annotated[
        bool, typer.Option("--json", envvar=f"{ENV_PREFIX}JSON", help="Print JSON instead.")
    ] = False,
) -> None:
    """Show a record's links and its timeline: events, jobs, attempts, writes, conflicts."""
    from freshforce.commands.context import (  # noqa: PLC0415 - module doc
        EXIT_BAD_CONFIG,
        cli_context,
        print_json,
    )
    from freshforce.commands.store import run_with_runtime  # noqa: PLC0415 - same
    from freshforce.engine.tracekey import trace_query  # noqa: PLC0415 - same

    cli = cli_context(ctx)
    try:
        query = trace_query(key, flow=flow)
    except ValueError as exc:
        cli.fail(str(exc), code=EXIT_BAD_CONFIG)
    found = run_with_runtime(ctx, lambda runtime: _load(runtime, tenant, query))
    if as_json:
        print_json(trace_as_dict(found))
        return
    for part in _render(found, key):
        cli.stdout.print(part, highlight=False, soft_wrap=True)


async def _load(runtime: Runtime, tenant: str, query: TraceQuery) -> Trace:
    from freshforce.store.trace import trace_record  # noqa: PLC0415 - module doc

    async with runtime.engine.connect() as db:
        return await trace_record(db, tenant, query)


def trace_as_dict(found: Trace) -> dict[str, Any]:
    """Return ``found`` as plain JSON-ready values: the links and the merged timeline."""
    return {
        "links": [dataclasses.asdict(link) for link in found.links],
        "timeline": [
            {"at": e.at, "kind": e.kind, **dataclasses.asdict(e.item)} for e in found.timeline
        ],
    }


def _render(found: Trace, key: str) -> list[RenderableType]:
    from rich.markup import escape  # noqa: PLC0415 - module doc
    from rich.table import Table  # noqa: PLC0415 - same

    if not found.links and not found.timeline:
        return [f"nothing recorded for {escape(key)}"]
    parts: list[RenderableType] = []
    if found.links:
        links = Table("link", "flow", "FreshBooks", "Salesforce", "Salesforce (2nd)", "linked at")
        for k in found.links:
            links.add_row(
                str(k.id),
                k.flow,
                k.freshbooks_id or "-",
                k.salesforce_id or "-",
                k.salesforce_secondary_id or "-",
                str(k.created_at),
                end_section=False,
            )
        parts += ["[bold]links[/]", links]
    else:
        parts.append(f"no link for {escape(key)} yet")
    timeline = Table("at", "what", "detail")
    for entry in found.timeline:
        what, detail = _line(entry)
        timeline.add_row(str(entry.at), what, escape(detail))
    parts += [f"[bold]timeline[/] ({len(found.timeline)} entries)", timeline]
    return parts


def _v(value: object) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def _line(entry: TraceEntry) -> tuple[str, str]:
    item = entry.item
    if entry.kind == "event":
        return _event(cast("TracedEvent", item))
    if entry.kind == "job":
        return _job(cast("TracedJob", item))
    if entry.kind == "attempt":
        return _attempt(cast("TracedAttempt", item))
    if entry.kind == "field_write":
        return _write(cast("FieldWrite", item))
    return _conflict(cast("Conflict", item))


def _event(e: TracedEvent) -> tuple[str, str]:
    payload = e.payload if isinstance(e.payload, dict) else {}
    where = f"{e.system} {e.object} {e.record_id or '-'}"
    if e.source == "echo":
        return "echo dropped", (
            f"{where}: our own write (job {payload.get('job_id')}, flow {payload.get('flow')})"
        )
    name = payload.get("name") or payload.get("change_type") or payload.get("changeType")
    return f"event ({e.source})", where + (f": {name}" if name else "")


def _job(j: TracedJob) -> tuple[str, str]:
    tries = f"{j.attempts} attempt{'s' if j.attempts != 1 else ''}"
    error = f"; last error: {j.last_error}" if j.last_error else ""
    return "job", f"#{j.id} {j.flow} {j.key}: {j.status}, {tries}{error}"


def _attempt(a: TracedAttempt) -> tuple[str, str]:
    error = f": {a.error_class}: {a.error_message}" if a.error_class else ""
    worker = f" on {a.worker}" if a.worker else ""
    return (
        "attempt",
        f"job #{a.job_id} attempt {a.attempt}: {a.outcome or 'running'}{worker}{error}",
    )


def _write(w: FieldWrite) -> tuple[str, str]:
    lines = [f"{w.object}.{w.field} of {w.record_id}: {_v(w.before)} → {_v(w.after)}"]
    if w.source_value is not None:
        lines.append(f"  from {_v(w.source_value)}")
    lines += [f"  {_step(step)}" for step in w.trace]
    suffix = f" (job {w.job_id})" if w.job_id is not None else ""
    return f"write → {w.system}{suffix}", "\n".join(lines)


def _step(step: Any) -> str:  # noqa: ANN401 - one stored step, JSON
    if isinstance(step, dict):
        return " ".join(f"{k}={_v(v)}" for k, v in step.items())
    return _v(step)


def _conflict(c: Conflict) -> tuple[str, str]:
    p = c.parked
    text = (
        f"#{c.id} {p.field}: FreshBooks {_v(p.freshbooks_value)} vs Salesforce "
        f"{_v(p.salesforce_value)} (last synced {_v(p.base_value)}), {c.status}"
    )
    if c.resolution is not None:
        text += f": {c.resolution} → {_v(c.resolved_value)} by {c.resolved_by}"
    return "conflict", text
