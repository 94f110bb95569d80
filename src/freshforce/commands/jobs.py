"""``freshforce jobs``: list jobs, make waiting ones due now, inspect/edit/replay dead letters.

The engine and the store are imported inside each command, so registering these commands costs
the command line nothing at start-up.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.table import Table

from freshforce.commands.context import console, print_json

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from freshforce.engine import JobStatus
    from freshforce.engine.queue import DeadLetter, Job
    from freshforce.runtime import Runtime

__all__ = ["app"]

app = typer.Typer(help="Inspect and steer the job queue.", no_args_is_help=True)
dead_app = typer.Typer(
    help="Dead letters: list, show, edit the payload, replay.", no_args_is_help=True
)
app.add_typer(dead_app, name="dead")

T = TypeVar("T")

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        envvar="FRESHFORCE_DATABASE_URL",
        help="The store's database URL (default: the settings' database_url).",
    ),
]
AsJson = Annotated[bool, typer.Option("--json", envvar="FRESHFORCE_JSON", help="Print JSON.")]
Limit = Annotated[
    int, typer.Option(min=1, max=100_000, envvar="FRESHFORCE_LIST_LIMIT", help="Most rows.")
]
LetterId = Annotated[int, typer.Argument(help="Dead letter id.")]


def _with_runtime(
    ctx: typer.Context, work: Callable[[Runtime], Awaitable[T]], *, database_url: str | None
) -> T:
    from freshforce.commands.store import run_with_runtime  # noqa: PLC0415 - see module doc

    return run_with_runtime(ctx, work, database_url=database_url)


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _job_dict(job: Job) -> dict[str, object]:
    return {k: _plain(v) for k, v in asdict(job).items()}


def _letter_dict(letter: DeadLetter) -> dict[str, object]:
    return {k: _plain(v) for k, v in asdict(letter).items()}


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _parse_status(status: str | None) -> JobStatus | None:
    if status is None:
        return None
    from freshforce.engine import JobStatus  # noqa: PLC0415 - see module doc

    try:
        return JobStatus(status)
    except ValueError as exc:
        choices = ", ".join(s.value for s in JobStatus)
        msg = f"{status!r} is not a job status; choose one of {choices}"
        raise typer.BadParameter(msg, param_hint="--status") from exc


@app.command("list")
def list_jobs(
    ctx: typer.Context,
    *,
    status: Annotated[
        str | None,
        typer.Option(envvar="FRESHFORCE_JOBS_STATUS", help="pending, running, done or dead."),
    ] = None,
    flow: Annotated[
        str | None, typer.Option(envvar="FRESHFORCE_JOBS_FLOW", help="Only jobs of this flow.")
    ] = None,
    limit: Limit = 100,
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
) -> None:
    """List jobs, newest first."""
    wanted = _parse_status(status)

    async def work(runtime: Runtime) -> list[Job]:
        return await runtime.queue().jobs(status=wanted, flow=flow, limit=limit)

    found = _with_runtime(ctx, work, database_url=database_url)
    if as_json:
        print_json([_job_dict(j) for j in found])
        return
    table = Table("id", "flow", "key", "status", "attempt", "run_at", "last_error")
    for job in found:
        table.add_row(
            str(job.id),
            job.flow,
            job.key,
            job.status.value,
            f"{job.attempt}/{job.max_attempts}",
            job.run_at.isoformat(timespec="seconds"),
            (job.last_error or "")[:60],
        )
    console().print(table)


@app.command("retry")
def retry_jobs(
    ctx: typer.Context,
    job_ids: Annotated[list[int], typer.Argument(help="Ids of pending jobs to run now.")],
    *,
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Make pending jobs waiting for a retry due now (dead jobs: use `jobs dead replay`)."""

    async def work(runtime: Runtime) -> list[int]:
        return await runtime.queue().retry_now(job_ids)

    due = _with_runtime(ctx, work, database_url=database_url)
    missing = sorted(set(job_ids) - set(due))
    if as_json:
        print_json({"due_now": due, "not_pending": missing})
    else:
        typer.echo(f"due now: {', '.join(map(str, due)) or 'none'}")
    if missing:
        raise _fail(f"not pending (unknown, running, done or dead): {', '.join(map(str, missing))}")


@dead_app.command("list")
def dead_list(
    ctx: typer.Context,
    *,
    include_replayed: Annotated[
        bool,
        typer.Option("--all", envvar="FRESHFORCE_DEAD_ALL", help="Include replayed letters."),
    ] = False,
    limit: Limit = 100,
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
) -> None:
    """List dead letters, newest first."""

    async def work(runtime: Runtime) -> list[DeadLetter]:
        queue = runtime.queue()
        return await queue.dead_letters(include_replayed=include_replayed, limit=limit)

    letters = _with_runtime(ctx, work, database_url=database_url)
    if as_json:
        print_json([_letter_dict(d) for d in letters])
        return
    table = Table("id", "flow", "key", "attempts", "error", "created_at", "replayed_at")
    for d in letters:
        table.add_row(
            str(d.id),
            d.flow,
            d.key,
            str(d.attempts),
            f"{d.error_class}: {d.error_message}"[:70],
            d.created_at.isoformat(timespec="seconds"),
            d.replayed_at.isoformat(timespec="seconds") if d.replayed_at else "",
        )
    console().print(table)


def _get_letter(ctx: typer.Context, database_url: str | None, letter_id: int) -> DeadLetter:
    async def work(runtime: Runtime) -> DeadLetter | None:
        return await runtime.queue().dead_letter(letter_id)

    letter = _with_runtime(ctx, work, database_url=database_url)
    if letter is None:
        raise _fail(f"no dead letter {letter_id}")
    return letter


@dead_app.command("show")
def dead_show(
    ctx: typer.Context,
    letter_id: LetterId,
    *,
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Show one dead letter with its payload and last error."""
    letter = _get_letter(ctx, database_url, letter_id)
    data = _letter_dict(letter)
    if as_json:
        print_json(data)
        return
    for name, value in data.items():
        shown = json.dumps(value) if name == "payload" else value
        typer.echo(f"{name}: {shown}")


def _read_payload(payload: str | None, payload_file: Path | None) -> dict[str, object]:
    if (payload is None) == (payload_file is None):
        msg = "give exactly one of --payload JSON or --payload-file PATH"
        raise typer.BadParameter(msg)
    source = "--payload" if payload is not None else str(payload_file)
    try:
        text = payload if payload is not None else Path(str(payload_file)).read_text("utf-8")
        data = json.loads(text)
        from freshforce.engine.queue import payload_hints  # noqa: PLC0415 - see module doc

        payload_hints(data)
    except OSError as exc:
        raise typer.BadParameter(f"{source}: cannot read it ({exc.strerror})") from exc
    except json.JSONDecodeError as exc:
        msg = f"{source}: not JSON (line {exc.lineno} column {exc.colno}: {exc.msg})"
        raise typer.BadParameter(msg) from exc
    except ValueError as exc:
        raise typer.BadParameter(f"{source}: {exc}") from exc
    return dict(data)


@dead_app.command("edit")
def dead_edit(
    ctx: typer.Context,
    letter_id: LetterId,
    *,
    payload: Annotated[
        str | None,
        typer.Option(
            envvar="FRESHFORCE_DEAD_PAYLOAD", help='New payload, e.g. \'{"hints": ["x"]}\'.'
        ),
    ] = None,
    payload_file: Annotated[
        Path | None,
        typer.Option(
            envvar="FRESHFORCE_DEAD_PAYLOAD_FILE", help="Read the new payload from this file."
        ),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Replace a dead letter's payload before replaying it."""
    new = _read_payload(payload, payload_file)

    async def work(runtime: Runtime) -> bool:
        return await runtime.queue().edit_dead_letter(letter_id, new)

    if not _with_runtime(ctx, work, database_url=database_url):
        raise _fail(f"no dead letter {letter_id} waiting for replay")
    typer.echo(f"dead letter {letter_id}: payload replaced")


@dead_app.command("replay")
def dead_replay(
    ctx: typer.Context,
    letter_id: LetterId,
    *,
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Enqueue a dead letter's job again with its (edited) payload."""

    async def work(runtime: Runtime) -> int | None:
        return await runtime.queue().replay(letter_id)

    job_id = _with_runtime(ctx, work, database_url=database_url)
    if job_id is None:
        raise _fail(f"no dead letter {letter_id} waiting for replay")
    if as_json:
        print_json({"dead_letter": letter_id, "job_id": job_id})
    else:
        typer.echo(f"dead letter {letter_id} replayed as job {job_id}")
