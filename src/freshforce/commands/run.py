"""``freshforce run`` and ``freshforce listen``: the service in one process, or its intake alone.

``run`` is the single-machine install: the web app (dashboard and FreshBooks webhook route),
intake (pollers, CDC, callbacks registered against ``public_url``), the scheduler and the worker
with the built-in flows. ``listen`` is the intake part alone, for PostgreSQL installs that run
workers elsewhere (``freshforce worker``); leases keep one reader per stream however many run.
Both load the mapping directory first and refuse to start on a bad file (exit code 2, every
problem with its file:line). SIGTERM or SIGINT drains and exits 0. Flags override settings of
the same meaning and show their ``FRESHFORCE_*`` variable; heavy imports happen when they run.
"""

from __future__ import annotations

import asyncio
import signal
from typing import TYPE_CHECKING, Annotated

import typer

from freshforce.commands.context import EXIT_BAD_CONFIG, CliContext, cli_context
from freshforce.envvars import ENV_PREFIX

if TYPE_CHECKING:
    from freshforce.mapping import MapSet
    from freshforce.runtime import Runtime
    from freshforce.service import Service
    from freshforce.settings import Settings

__all__ = ["listen", "load_flow_maps", "run", "stop_on_signals"]

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        envvar=f"{ENV_PREFIX}DATABASE_URL", help="The store's database URL (database_url)."
    ),
]
Host = Annotated[
    str | None,
    typer.Option(envvar=f"{ENV_PREFIX}WEB_HOST", help="Web app address (web_host)."),
]
Port = Annotated[
    int | None,
    typer.Option(min=0, max=65535, envvar=f"{ENV_PREFIX}WEB_PORT", help="Web app port (web_port)."),
]
PublicUrl = Annotated[
    str | None,
    typer.Option(
        envvar=f"{ENV_PREFIX}PUBLIC_URL",
        help="Where FreshBooks reaches the webhook route (public_url; empty: no webhooks).",
    ),
]
PollInterval = Annotated[
    float | None,
    typer.Option(
        "--poll-seconds",
        min=0.01,
        envvar=f"{ENV_PREFIX}POLL_INTERVAL_SECONDS",
        help="Seconds between polls of each stream (poll_interval_seconds, default 60).",
    ),
]
Cdc = Annotated[
    bool | None,
    typer.Option(
        "--cdc/--no-cdc",
        envvar=f"{ENV_PREFIX}CDC",
        help="Subscribe to Salesforce change data capture (cdc, default on).",
        show_default=False,
    ),
]


def load_flow_maps(cli: CliContext, settings: Settings) -> MapSet:
    """Load the mapping directory, or stop with every problem and exit code 2."""
    from freshforce.mapping import MappingConfigError, load_maps  # noqa: PLC0415 - module doc

    try:
        return load_maps(settings.config_dir, profile=settings.profile)
    except MappingConfigError as exc:
        cli.fail(f"{exc.message}\nfix the file(s) in {settings.config_dir}", code=EXIT_BAD_CONFIG)


def stop_on_signals() -> asyncio.Event:
    """Return an event set by SIGTERM or SIGINT (call it inside the running loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop


def _start(ctx: typer.Context, overrides: dict[str, object], *, work: bool) -> None:
    from freshforce.commands.store import run_with_runtime  # noqa: PLC0415 - module doc
    from freshforce.flows import builtin_flows  # noqa: PLC0415 - same
    from freshforce.service import Service, reconcile_tasks  # noqa: PLC0415 - same

    cli = cli_context(ctx)
    settings = cli.settings_with(**overrides)
    maps = load_flow_maps(cli, settings)

    async def serve(runtime: Runtime) -> None:
        from freshforce.environments import ConfigWatch, running_maps  # noqa: PLC0415 - module doc

        start, running = await running_maps(runtime, maps)
        flows = builtin_flows(runtime, start)
        periodic = reconcile_tasks(runtime, start, set(flows)) if work else []
        watch = ConfigWatch(runtime, lambda m: builtin_flows(runtime, m), running) if work else None
        service = Service(runtime, start, flows, work=work, periodic=periodic, config_watch=watch)
        announce = asyncio.create_task(_announce(cli, service, work=work))
        try:
            await service.serve(stop_on_signals())
        finally:
            announce.cancel()
        cli.stderr.print("stopped")

    run_with_runtime(ctx, serve, **overrides)


async def _announce(cli: CliContext, service: Service, *, work: bool) -> None:
    await service.started.wait()
    flows = ", ".join(sorted(service.flows)) or "none"
    what = "freshforce running" if work else "freshforce listening"
    cli.stderr.print(
        f"{what}: web app and webhooks on {service.url}/, {len(service.intake)} tenant(s), "
        f"flows: {flows}; stop with Ctrl-C or SIGTERM",
        soft_wrap=True,
    )


def _service_overrides(  # noqa: PLR0917 - the options `run` and `listen` share
    database_url: str | None,
    host: str | None,
    port: int | None,
    public_url: str | None,
    poll_interval: float | None,
    cdc: bool | None,
) -> dict[str, object]:
    return {
        "database_url": database_url,
        "web_host": host,
        "web_port": port,
        "public_url": public_url,
        "poll_interval_seconds": poll_interval,
        "cdc": cdc,
    }


def run(
    ctx: typer.Context,
    *,
    database_url: DatabaseUrl = None,
    host: Host = None,
    port: Port = None,
    public_url: PublicUrl = None,
    poll_interval: PollInterval = None,
    cdc: Cdc = None,
) -> None:
    """Run the whole service in one process: web app, intake, scheduler and workers."""
    overrides = _service_overrides(database_url, host, port, public_url, poll_interval, cdc)
    _start(ctx, overrides, work=True)


def listen(
    ctx: typer.Context,
    *,
    database_url: DatabaseUrl = None,
    host: Host = None,
    port: Port = None,
    public_url: PublicUrl = None,
    poll_interval: PollInterval = None,
    cdc: Cdc = None,
) -> None:
    """Run intake only (webhook route, pollers, CDC); workers run as `freshforce worker`."""
    overrides = _service_overrides(database_url, host, port, public_url, poll_interval, cdc)
    _start(ctx, overrides, work=False)
