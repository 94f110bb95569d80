"""``freshforce worker``: run N async workers on the job queue until SIGTERM or SIGINT.

Every flag overrides the settings key of the same meaning (``--concurrency`` →
``worker_concurrency``, ``--lease-seconds`` → ``job_lease_seconds``, ...) and its environment
variable is that key's ``FRESHFORCE_*`` name; the worker is built by the runtime from the result.
The runtime, the store and the metrics server are imported when the command runs, so registering
it costs the command line nothing at start-up.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated

import typer

from freshforce.commands.context import cli_context
from freshforce.commands.run import load_flow_maps, stop_on_signals
from freshforce.envvars import ENV_PREFIX

if TYPE_CHECKING:
    from freshforce.engine import Flow, JobHandler
    from freshforce.runtime import Runtime
    from freshforce.settings import Settings

__all__ = ["MAX_CONCURRENCY", "worker"]

# The same bound as the worker_concurrency setting (FRESHFORCE_WORKER_CONCURRENCY).
MAX_CONCURRENCY = 256
DATABASE_URL_ENVVAR = f"{ENV_PREFIX}DATABASE_URL"  # as commands/store.py, without its imports


def load_handlers(spec: str) -> Mapping[str, Flow | JobHandler]:
    """Import ``module:factory`` and call it for a flow → flow-or-handler mapping."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        msg = f"{spec!r}: expected 'package.module:factory'"
        raise typer.BadParameter(msg, param_hint="--handlers")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        msg = f"{spec!r}: cannot import it ({exc})"
        raise typer.BadParameter(msg, param_hint="--handlers") from exc
    handlers = factory()
    if not isinstance(handlers, Mapping):
        msg = f"{spec!r} returned {type(handlers).__name__}, expected a mapping of flow → handler"
        raise typer.BadParameter(msg, param_hint="--handlers")
    return handlers


def worker(
    ctx: typer.Context,
    *,
    database_url: Annotated[
        str | None,
        typer.Option(envvar=DATABASE_URL_ENVVAR, help="The store's database URL (database_url)."),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=MAX_CONCURRENCY,
            envvar=f"{ENV_PREFIX}WORKER_CONCURRENCY",
            help="Jobs at once (worker_concurrency, default 4).",
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=10_000,
            envvar=f"{ENV_PREFIX}WORKER_BATCH_SIZE",
            help="Jobs per claim (worker_batch_size, default 20).",
        ),
    ] = None,
    lease_seconds: Annotated[
        float | None,
        typer.Option(
            envvar=f"{ENV_PREFIX}JOB_LEASE_SECONDS",
            help="Job lease length (job_lease_seconds, default 30).",
        ),
    ] = None,
    max_attempts: Annotated[
        int | None,
        typer.Option(
            min=1,
            envvar=f"{ENV_PREFIX}JOB_MAX_ATTEMPTS",
            help="Attempts before a job is dead (job_max_attempts, default 10).",
        ),
    ] = None,
    poll_interval: Annotated[
        float | None,
        typer.Option(
            min=0.01,
            envvar=f"{ENV_PREFIX}WORKER_POLL_INTERVAL",
            help="Seconds between polls (worker_poll_interval, default 1).",
        ),
    ] = None,
    shutdown_timeout: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            envvar=f"{ENV_PREFIX}WORKER_SHUTDOWN_TIMEOUT",
            help="Seconds running jobs get to finish on SIGTERM before they are requeued "
            "(worker_shutdown_timeout, default 30; 0: requeue them at once).",
        ),
    ] = None,
    handlers: Annotated[
        str | None,
        typer.Option(
            envvar=f"{ENV_PREFIX}WORKER_HANDLERS",
            help="'package.module:factory' returning flow name → Flow or single-job handler "
            "(worker_handlers); default: the built-in flows on the mapping directory.",
        ),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=65535,
            envvar=f"{ENV_PREFIX}WORKER_METRICS_PORT",
            help="Serve Prometheus metrics on this port (worker_metrics_port; 0: off).",
        ),
    ] = None,
) -> None:
    """Claim and run jobs until SIGTERM/SIGINT, then finish or release every lease."""
    from prometheus_client import CollectorRegistry, start_http_server  # noqa: PLC0415 - module doc

    from freshforce.commands.store import run_with_runtime  # noqa: PLC0415 - same
    from freshforce.engine import QueueMetrics  # noqa: PLC0415 - same
    from freshforce.flows import builtin_flows  # noqa: PLC0415 - same

    overrides = {
        "database_url": database_url,
        "worker_concurrency": concurrency,
        "worker_batch_size": batch_size,
        "job_lease_seconds": lease_seconds,
        "job_max_attempts": max_attempts,
        "worker_poll_interval": poll_interval,
        "worker_shutdown_timeout": shutdown_timeout,
        "worker_handlers": handlers,
        "worker_metrics_port": metrics_port,
    }
    settings = cli_settings(ctx, overrides)
    chosen = load_handlers(settings.worker_handlers) if settings.worker_handlers else None
    maps = None if chosen else load_flow_maps(cli_context(ctx), settings)
    registry = CollectorRegistry()
    if settings.worker_metrics_port:
        start_http_server(settings.worker_metrics_port, registry=registry)

    async def serve(runtime: Runtime) -> None:
        from freshforce.environments import ConfigWatch, running_maps  # noqa: PLC0415 - same

        if maps is None:
            runner = runtime.worker(chosen or {}, metrics=QueueMetrics(registry))
            await runner.run(stop_on_signals())
            return
        start, running = await running_maps(runtime, maps)
        from freshforce.assist.breaker import update_breaker  # noqa: PLC0415 - module doc

        runner = runtime.worker(
            builtin_flows(runtime, start),
            metrics=QueueMetrics(registry),
            gate=update_breaker(runtime, start),
        )
        watch = ConfigWatch(runtime, lambda m: builtin_flows(runtime, m), running, runner)
        stop = stop_on_signals()
        await asyncio.gather(runner.run(stop), watch.follow(stop))

    run_with_runtime(ctx, serve, **overrides)


def cli_settings(ctx: typer.Context, overrides: Mapping[str, object]) -> Settings:
    """Return the settings this invocation runs with (flags over environment over file)."""
    return cli_context(ctx).settings_with(**overrides)
