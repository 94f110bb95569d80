"""``freshforce worker``: run N async workers on the job queue until SIGTERM or SIGINT.

The engine, the store and the metrics server are imported when the command runs, so registering
it costs the command line nothing at start-up.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import random
import signal
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from freshforce.engine import Handler

__all__ = ["MAX_CONCURRENCY", "worker"]

# The same bound as the worker_concurrency setting (FRESHFORCE_WORKER_CONCURRENCY).
MAX_CONCURRENCY = 256


def builtin_handlers() -> dict[str, Handler]:
    """Return the handlers of the flows shipped with freshforce (none are built yet)."""
    return {}


def load_handlers(spec: str | None) -> Mapping[str, Handler]:
    """Import ``module:factory`` and call it for a flow → handler mapping; default: built-ins."""
    if not spec:
        return builtin_handlers()
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


def _worker_name(rng: random.Random) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{rng.getrandbits(32):08x}"


def worker(
    ctx: typer.Context,
    *,
    database_url: Annotated[
        str | None,
        typer.Option(
            envvar="FRESHFORCE_DATABASE_URL",
            help="The store's database URL (default: the settings' database_url).",
        ),
    ] = None,
    concurrency: Annotated[
        int,
        typer.Option(
            min=1,
            max=MAX_CONCURRENCY,
            envvar="FRESHFORCE_WORKER_CONCURRENCY",
            help="Jobs at once (1-256).",
        ),
    ] = 4,
    batch_size: Annotated[
        int,
        typer.Option(
            min=1, max=10_000, envvar="FRESHFORCE_WORKER_BATCH_SIZE", help="Jobs per claim."
        ),
    ] = 20,
    lease_seconds: Annotated[
        float,
        typer.Option(min=1.0, envvar="FRESHFORCE_WORKER_LEASE_SECONDS", help="Lease length."),
    ] = 30.0,
    max_attempts: Annotated[
        int,
        typer.Option(
            min=1, envvar="FRESHFORCE_JOB_MAX_ATTEMPTS", help="Attempts before a job is dead."
        ),
    ] = 10,
    poll_interval: Annotated[
        float,
        typer.Option(
            min=0.01, envvar="FRESHFORCE_WORKER_POLL_INTERVAL", help="Seconds between polls."
        ),
    ] = 1.0,
    shutdown_timeout: Annotated[
        float,
        typer.Option(
            min=0.0,
            envvar="FRESHFORCE_WORKER_SHUTDOWN_TIMEOUT",
            help="Seconds running jobs get to finish on SIGTERM before they are requeued.",
        ),
    ] = 30.0,
    handlers: Annotated[
        str | None,
        typer.Option(
            envvar="FRESHFORCE_WORKER_HANDLERS",
            help="'package.module:factory' returning flow → handler; default: built-in flows.",
        ),
    ] = None,
    metrics_port: Annotated[
        int,
        typer.Option(
            min=0,
            max=65535,
            envvar="FRESHFORCE_WORKER_METRICS_PORT",
            help="Serve Prometheus metrics on this port (0: off).",
        ),
    ] = 0,
) -> None:
    """Claim and run jobs until SIGTERM/SIGINT, then finish or release every lease."""
    from prometheus_client import CollectorRegistry, start_http_server  # noqa: PLC0415 - module doc

    from freshforce.commands.store import run_with_store  # noqa: PLC0415 - same
    from freshforce.engine import (  # noqa: PLC0415 - same
        JobQueue,
        QueueConfig,
        QueueMetrics,
        RetryPolicy,
        Worker,
        WorkerConfig,
    )

    flow_handlers = load_handlers(handlers)
    queue_config = QueueConfig(lease_seconds=lease_seconds, max_attempts=max_attempts)
    worker_config = WorkerConfig(
        concurrency=concurrency,
        batch_size=batch_size,
        poll_interval=poll_interval,
        shutdown_timeout=shutdown_timeout,
    )
    registry = CollectorRegistry()
    if metrics_port:
        start_http_server(metrics_port, registry=registry)

    async def serve(engine: AsyncEngine) -> None:
        rng = random.Random()  # noqa: S311 - jitter and worker names, not secrets
        queue = JobQueue(engine, clock=lambda: datetime.now(UTC), config=queue_config)
        runner = Worker(
            queue,
            flow_handlers,
            name=_worker_name(rng),
            policy=RetryPolicy(),
            rng=rng,
            metrics=QueueMetrics(registry),
            config=worker_config,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await runner.run(stop)

    run_with_store(ctx, database_url, serve)
