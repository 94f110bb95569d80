"""``freshforce conflicts list|show|resolve``: fields parked for review, and settling them.

A conflict is one field of one linked record that changed differently on both sides under the
``review`` policy, or whose value one side refused (kind ``refused``: the refusing system's
error code and message are shown; fixing the value at its source closes it by itself); only
that field waits, the rest of the record syncs. ``resolve ID --take
freshbooks|salesforce`` keeps one side's value, ``--value V`` a value of your own (read as the
field's type: JSON when the sides' values are numbers, booleans or null, text otherwise); the
link is then synced again by the worker. Exit codes: 0 done, 1 unknown or already settled
(or the store unreachable), 2 bad arguments. Store imports happen inside each command.
"""

from __future__ import annotations

import getpass
import json
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from freshforce.envvars import ENV_PREFIX

if TYPE_CHECKING:
    from freshforce.runtime import Runtime
    from freshforce.store.conflicts import Conflict
    from freshforce.store.links import Link

__all__ = ["app"]

app = typer.Typer(
    help="Fields parked for review: list, show, resolve with one side's value or your own.",
    no_args_is_help=True,
)

Tenant = Annotated[
    str,
    typer.Option(envvar=f"{ENV_PREFIX}TENANT", help="The integration pair (tenant) to look at."),
]
Json = Annotated[
    bool, typer.Option("--json", envvar=f"{ENV_PREFIX}JSON", help="Print JSON instead of text.")
]
ConflictId = Annotated[int, typer.Argument(help="The conflict's id (from `conflicts list`).")]


class Side(StrEnum):
    """The side whose value a resolution keeps."""

    SALESFORCE = "salesforce"
    FRESHBOOKS = "freshbooks"


def _value(value: object) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def _as_dict(conflict: Conflict, link: Link | None = None) -> dict[str, Any]:
    p = conflict.parked
    found: dict[str, Any] = {
        "id": conflict.id,
        "tenant": conflict.tenant,
        "flow": conflict.flow,
        "link_id": p.link_id,
        "field": p.field,
        "kind": str(p.kind),
        "refused_by": p.refused_by,
        "error_code": p.error_code,
        "error_message": p.error_message,
        "status": str(conflict.status),
        "base_value": p.base_value,
        "freshbooks": {
            "value": p.freshbooks_value,
            "changed_by": p.freshbooks_changed_by,
            "changed_at": p.freshbooks_changed_at,
        },
        "salesforce": {
            "value": p.salesforce_value,
            "changed_by": p.salesforce_changed_by,
            "changed_at": p.salesforce_changed_at,
        },
        "resolution": None if conflict.resolution is None else str(conflict.resolution),
        "resolved_value": conflict.resolved_value,
        "resolved_by": conflict.resolved_by,
        "resolved_at": conflict.resolved_at,
        "created_at": conflict.created_at,
        "updated_at": conflict.updated_at,
    }
    if link is not None:
        found["link"] = {
            "freshbooks_id": link.freshbooks_id,
            "salesforce_id": link.salesforce_id,
            "salesforce_secondary_id": link.salesforce_secondary_id,
        }
    return found


async def _list(runtime: Runtime, tenant: str, *, every: bool) -> list[Conflict]:
    from freshforce.store.conflicts import ConflictStatus, list_conflicts  # noqa: PLC0415

    status = None if every else ConflictStatus.OPEN
    async with runtime.engine.connect() as db:
        return await list_conflicts(db, tenant, status=status)


async def _show(runtime: Runtime, tenant: str, conflict_id: int) -> dict[str, Any] | None:
    from freshforce.store.conflicts import get_conflict  # noqa: PLC0415
    from freshforce.store.links import get_link  # noqa: PLC0415
    from freshforce.store.scope import Scope  # noqa: PLC0415

    async with runtime.engine.connect() as db:
        found = await get_conflict(db, tenant, conflict_id)
        if found is None:
            return None
        link = await get_link(db, Scope(tenant, found.flow), found.parked.link_id)
    return _as_dict(found, link)


@app.command("list")
def list_(
    ctx: typer.Context,
    tenant: Tenant = "default",
    every: Annotated[bool, typer.Option("--all", help="Include settled conflicts.")] = False,
    as_json: Json = False,
) -> None:
    """List open conflicts (--all: settled ones too), oldest first."""
    from rich.table import Table  # noqa: PLC0415

    from freshforce.commands.context import cli_context, print_json  # noqa: PLC0415
    from freshforce.commands.store import run_with_runtime  # noqa: PLC0415

    found = run_with_runtime(ctx, lambda runtime: _list(runtime, tenant, every=every))
    if as_json:
        print_json([_as_dict(c) for c in found])
        return
    out = cli_context(ctx).stdout
    if not found:
        out.print(f"no {'' if every else 'open '}conflicts for tenant {tenant!r}")
        return
    table = Table(
        "id", "flow", "link", "field", "why", "freshbooks", "salesforce", "status", "since"
    )
    for c in found:
        p = c.parked
        table.add_row(
            str(c.id),
            c.flow,
            str(p.link_id),
            p.field,
            _why(c),
            _value(p.freshbooks_value),
            _value(p.salesforce_value),
            str(c.status) if c.resolution is None else f"{c.status} ({c.resolution})",
            str(c.created_at),
        )
    out.print(table)


@app.command()
def show(
    ctx: typer.Context, conflict_id: ConflictId, tenant: Tenant = "default", as_json: Json = False
) -> None:
    """Show one conflict: the field, the last synced value, both sides' values, who and when."""
    from freshforce.commands.context import EXIT_FAILED, cli_context, print_json  # noqa: PLC0415
    from freshforce.commands.store import run_with_runtime  # noqa: PLC0415

    cli = cli_context(ctx)
    found = run_with_runtime(ctx, lambda runtime: _show(runtime, tenant, conflict_id))
    if found is None:
        cli.fail(f"no conflict {conflict_id} for tenant {tenant!r}", code=EXIT_FAILED)
    if as_json:
        print_json(found)
        return
    for line in _show_lines(found):
        cli.stdout.print(line, highlight=False, markup=False, soft_wrap=True)


def _why(conflict: Conflict) -> str:
    p = conflict.parked
    if p.refused_by is None:
        return str(p.kind)
    return f"refused by {p.refused_by}: {p.error_code or 'no code'}"


_SYSTEMS = {"freshbooks": "FreshBooks", "salesforce": "Salesforce"}


def _show_lines(c: dict[str, Any]) -> list[str]:
    link = c.get("link") or {}
    fb, sf = link.get("freshbooks_id") or "-", link.get("salesforce_id") or "-"
    ids = f"FreshBooks {fb}, Salesforce {sf}"
    if link.get("salesforce_secondary_id"):
        ids += f" / {link['salesforce_secondary_id']}"
    lines = [
        f"conflict {c['id']} ({c['flow']}, link {c['link_id']}: {ids})",
        f"  field:        {c['field']}",
        f"  status:       {c['status']} since {c['created_at']}",
        f"  last synced:  {_value(c['base_value'])}",
    ]
    for side, label in _SYSTEMS.items():
        s = c[side]
        by = f" (changed by {s['changed_by'] or 'unknown'} at {s['changed_at'] or 'unknown'})"
        lines.append(f"  {label + ':':<13} {_value(s['value'])}{by}")
    if c["refused_by"] is not None:
        system = _SYSTEMS.get(c["refused_by"], c["refused_by"])
        source = next(label for side, label in _SYSTEMS.items() if side != c["refused_by"])
        lines += [
            f"  refused by:   {system}, {c['error_code'] or 'no code'}: {c['error_message'] or ''}",
            f"  fix it:       correct the value in {source} (it syncs and this closes), or",
        ]
    if c["resolution"] is not None:
        lines.append(
            f"  resolved:     {c['resolution']} → {_value(c['resolved_value'])} "
            f"by {c['resolved_by']} at {c['resolved_at']}"
        )
    else:
        lines.append(
            f"  resolve with: freshforce conflicts resolve {c['id']} "
            "--take freshbooks|salesforce, or --value V"
        )
    return lines


@app.command()
def resolve(
    ctx: typer.Context,
    conflict_id: ConflictId,
    *,
    take: Annotated[
        Side | None, typer.Option(help="Keep this side's value.", case_sensitive=False)
    ] = None,
    value: Annotated[
        str | None,
        typer.Option(help="Keep this value instead (JSON when the field's values are not text)."),
    ] = None,
    by: Annotated[
        str | None, typer.Option(help="Who settles it, for the record (default: your login).")
    ] = None,
    tenant: Tenant = "default",
    as_json: Json = False,
) -> None:
    """Settle a conflict with one side's value or your own; the record then syncs again."""
    from freshforce.commands.context import (  # noqa: PLC0415
        EXIT_BAD_CONFIG,
        EXIT_FAILED,
        cli_context,
        print_json,
    )
    from freshforce.commands.store import run_with_runtime  # noqa: PLC0415

    cli = cli_context(ctx)
    if (take is None) == (value is None):
        cli.fail(
            "give exactly one of --take freshbooks|salesforce and --value V", code=EXIT_BAD_CONFIG
        )
    who = by or _login()
    outcome = run_with_runtime(
        ctx, lambda runtime: _resolve(runtime, tenant, conflict_id, take=take, text=value, by=who)
    )
    if isinstance(outcome, _Refused):
        cli.fail(outcome.message, code=EXIT_BAD_CONFIG if outcome.bad_value else EXIT_FAILED)
    if as_json:
        print_json(_as_dict(outcome))
        return
    cli.stdout.print(
        f"resolved conflict {outcome.id} ({outcome.parked.field}): {outcome.resolution} → "
        f"{_value(outcome.resolved_value)}; link {outcome.parked.link_id} will sync again",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


class _Refused:
    def __init__(self, message: str, *, bad_value: bool = False) -> None:
        self.message = message
        self.bad_value = bad_value


async def _resolve(
    runtime: Runtime,
    tenant: str,
    conflict_id: int,
    *,
    take: Side | None,
    text: str | None,
    by: str,
) -> Conflict | _Refused:
    from freshforce.engine.settle import ConflictNotOpenError, settle_conflict  # noqa: PLC0415
    from freshforce.store.conflicts import Resolution, get_conflict  # noqa: PLC0415

    chosen: Any = None
    if text is not None:
        async with runtime.engine.connect() as db:
            found = await get_conflict(db, tenant, conflict_id)
        if found is None:
            return _Refused(f"no conflict {conflict_id} for tenant {tenant!r}")
        try:
            chosen = _typed(text, found)
        except ValueError as exc:
            return _Refused(str(exc), bad_value=True)
    resolution = Resolution.VALUE if take is None else Resolution(take.value)
    try:
        return await settle_conflict(
            runtime.queue(), tenant, conflict_id, take=resolution, value=chosen, by=by
        )
    except ConflictNotOpenError as exc:
        return _Refused(str(exc))


def _typed(text: str, conflict: Conflict) -> Any:  # noqa: ANN401 - a JSON wire value
    sides = (conflict.parked.freshbooks_value, conflict.parked.salesforce_value)
    if not any(v is not None and not isinstance(v, str) for v in sides):
        return text
    try:
        return json.loads(text)
    except ValueError:
        msg = (
            f"--value {text!r}: field {conflict.parked.field} holds "
            f"{', '.join(_value(v) for v in sides)}, so give JSON (a number, true/false, null "
            'or a quoted "text")'
        )
        raise ValueError(msg) from None


def _login() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "cli"
