"""The service: web app, intake, scheduler and (for ``run``) the worker, in one process.

:class:`Service` is what ``freshforce run`` (``work=True``) and ``freshforce listen``
(``work=False``) start. ``serve(stop)`` brings the parts up in this order: the web app (the
dashboard and the FreshBooks webhook route) on ``web_host:web_port``, then each tenant's
intake (callbacks registered once the route answers, pollers and CDC subscribers on the
scheduler), the periodic tasks, and the worker on the given flows. When ``stop`` is set (the
command sets it on SIGTERM or SIGINT) it drains: the web app stops taking posts, the scheduler
lets running polls finish, the worker finishes or releases its jobs (``Worker.run``), and the
poll leases are given up. If any part fails, the others are stopped the same way and the
failure is raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog
import uvicorn
from sqlalchemy.exc import SQLAlchemyError

from freshforce.assist.breaker import update_breaker
from freshforce.engine import QueueMetrics
from freshforce.errors import FreshforceError
from freshforce.service.event_check import missing_platform_events
from freshforce.service.intake import (
    CALLBACK_REGISTRATIONS_AT_ONCE,
    CALLBACK_VERIFY_SECONDS,
    TENANT_SCAN_SECONDS,
    ChannelFactory,
    TenantIntake,
    open_intake,
    poll_offset,
)
from freshforce.service.outbox import DRAIN_SECONDS, OutboxDrain
from freshforce.service.scheduler import Scheduler
from freshforce.service.targets import IntakeTargets, intake_targets
from freshforce.web import create_app

if TYPE_CHECKING:
    from freshforce.engine import Flow, JobHandler, Worker
    from freshforce.environments import ConfigWatch
    from freshforce.mapping import MapSet
    from freshforce.runtime import Runtime
    from freshforce.service.periodic import Periodic

__all__ = ["Service"]

log = structlog.get_logger("freshforce.service")
_WEB_GRACE_SECONDS = 5


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the service owns SIGTERM and SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class Service:
    """One process's web app, intake, scheduler and worker, started and drained together."""

    runtime: Runtime
    maps: MapSet
    flows: Mapping[str, Flow | JobHandler]  # run by the worker; their maps decide what intake reads
    work: bool = True  # False: intake only (`freshforce listen`)
    periodic: Sequence[Periodic] = ()
    pubsub_channel: ChannelFactory | None = None  # default: the runtime's; used when cdc is on
    sock: socket.socket | None = None  # a bound socket to serve on instead of web_host:web_port
    metrics: QueueMetrics | None = None  # default: on the web app's /metrics registry
    callback_verify_seconds: float = CALLBACK_VERIFY_SECONDS  # wait for FreshBooks to verify
    tenant_scan_seconds: float = TENANT_SCAN_SECONDS  # look for newly connected tenants
    config_watch: ConfigWatch | None = None  # follows applied configuration versions (hot reload)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    scheduler: Scheduler = field(init=False)
    targets: IntakeTargets = field(init=False)
    intake: list[TenantIntake] = field(init=False, default_factory=list)
    drains: list[OutboxDrain] = field(init=False, default_factory=list)
    _bound: socket.socket | None = field(init=False, default=None)
    _unpaired: set[str] = field(init=False, default_factory=set)
    _channel: ChannelFactory | None = field(init=False, default=None)
    _registering: asyncio.Semaphore = field(
        init=False, default_factory=lambda: asyncio.Semaphore(CALLBACK_REGISTRATIONS_AT_ONCE)
    )

    def __post_init__(self) -> None:
        self.scheduler = Scheduler(self.runtime.rng)
        self.targets = intake_targets(self.maps, set(self.flows))

    @property
    def url(self) -> str:
        """Return the web app's base URL (with the port bound, once started)."""
        if self._bound is not None:
            host, port = self._bound.getsockname()[:2]
            return f"http://{host}:{port}"
        settings = self.runtime.settings
        return f"http://{settings.web_host}:{settings.web_port}"

    async def serve(self, stop: asyncio.Event) -> None:
        """Run every part until ``stop`` is set (or one fails), then drain them all."""
        web, web_task = await self._start_web()
        parts = [asyncio.create_task(self._web_until(stop, web, web_task), name="web")]
        try:
            await self._start_intake(stop)
            parts.append(asyncio.create_task(self.scheduler.run(stop), name="scheduler"))
            if self.work:
                gate = update_breaker(self.runtime, self.maps)
                worker = self.runtime.worker(self.flows, metrics=self.metrics, gate=gate)
                self._watch_config(worker)
                parts.append(asyncio.create_task(worker.run(stop), name="worker"))
            self.started.set()
            log.info("service_started", url=self.url, worker=self.work, tasks=self.scheduler.names)
            await asyncio.wait(parts, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            stop.set()
            await asyncio.gather(*parts, return_exceptions=True)
            if not web_task.done():
                web.should_exit = True
                await asyncio.gather(web_task, return_exceptions=True)
            for tenant in self.intake:
                await tenant.release()
            for drain in self.drains:
                await drain.aclose()
            log.info("service_stopped")
        for part in parts:
            if not part.cancelled() and part.exception() is not None:
                raise part.exception()  # type: ignore[misc]  # checked just above

    def _watch_config(self, worker: Worker) -> None:
        if self.config_watch is None:
            return
        self.config_watch.worker = worker

        async def check() -> None:
            assert self.config_watch is not None  # noqa: S101 - set just above
            await self.config_watch.check()

        seconds = self.runtime.settings.config_reload_seconds
        self.scheduler.every(seconds, "config-reload", check, at_start=False)

    async def _check_platform_events(self, tenants: Sequence[TenantIntake]) -> None:
        """Log what the org lacks for the configured platform events (when a tenant starts)."""
        settings = self.runtime.settings
        for tenant in tenants:
            try:
                problems = await missing_platform_events(
                    tenant.pair.salesforce,
                    channels=settings.platform_event_channels,
                    publish=settings.platform_event_publish,
                )
            except FreshforceError as exc:
                log.warning("platform_events_unchecked", tenant=tenant.tenant, error=exc.message)
                continue
            for problem in problems:
                log.warning("platform_event_missing", tenant=tenant.tenant, problem=problem)

    async def _start_web(self) -> tuple[_Server, asyncio.Task[None]]:
        settings = self.runtime.settings
        app = create_app(
            self.runtime.engine,
            settings=settings,
            clock=self.runtime.clock,
            transport=self.runtime.transport,
            runtime=self.runtime,
        )
        config = uvicorn.Config(
            app,
            host=settings.web_host,
            port=settings.web_port,
            proxy_headers=True,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=_WEB_GRACE_SECONDS,
        )
        if self.metrics is None and self.work:  # the worker's metrics on the app's /metrics
            self.metrics = QueueMetrics(app.state.deps.registry)
        server = _Server(config)
        task = asyncio.create_task(self._serve_web(server))
        while not server.started:
            if task.done():
                await task  # raises why it did not start
            await asyncio.sleep(0.01)
        bound = [sock for srv in server.servers for sock in srv.sockets]
        self._bound = self.sock or (bound[0] if bound else None)
        return server, task

    async def _serve_web(self, server: _Server) -> None:
        try:
            await server.serve(sockets=None if self.sock is None else [self.sock])
        except SystemExit as exc:  # uvicorn exits when it cannot bind
            msg = f"cannot serve the web app on {self.url} (web_host, web_port): see the log above"
            raise FreshforceError(msg) from exc

    async def _web_until(self, stop: asyncio.Event, web: _Server, task: asyncio.Task[None]) -> None:
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({stopped, task}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        web.should_exit = True
        await task
        if not stop.is_set():
            msg = "the web app stopped by itself"
            raise FreshforceError(msg)

    async def _start_intake(self, stop: asyncio.Event) -> None:
        settings = self.runtime.settings
        if (settings.cdc and self.targets.cdc) or settings.platform_event_channels:
            self._channel = self.pubsub_channel or self.runtime.pubsub_channel
        opened = True
        try:
            await self._watch_new_tenants(stop)
        except (SQLAlchemyError, OSError) as exc:  # e.g. the connection cut while starting
            opened = False
            log.warning("intake_not_opened", error=type(exc).__name__, retry="at once, then scans")
        self.scheduler.every(
            self.tenant_scan_seconds,
            "tenants/scan",
            lambda: self._watch_new_tenants(stop),
            at_start=not opened,
        )
        for task in self.periodic:
            self.scheduler.every(task.seconds, task.name, task.fn, at_start=task.at_start)

    async def _watch_new_tenants(self, stop: asyncio.Event) -> None:
        """Open and schedule the intake of every paired tenant not watched yet."""
        settings = self.runtime.settings
        opened = await open_intake(
            self.runtime,
            self.targets,
            holder=self.runtime.holder_name(),
            channel=self._channel,
            skip={tenant.tenant for tenant in self.intake},
            unpaired=self._unpaired,
            cdc=settings.cdc,
            event_channels=settings.platform_event_channels,
        )
        for tenant in opened:
            seconds = settings.poll_interval_seconds
            tenant.schedule(
                self.scheduler,
                seconds,
                stop,
                public_url=settings.public_url,
                verify_seconds=self.callback_verify_seconds,
                offset=poll_offset(len(self.intake), seconds),
                registering=self._registering,
            )
            self.intake.append(tenant)
            if self.started.is_set():
                log.info("tenant_watched", tenant=tenant.tenant)
        kinds = frozenset(settings.platform_event_publish)
        if kinds or settings.platform_event_channels:
            await self._check_platform_events(opened)
        for tenant in opened if kinds else ():
            factory = self.pubsub_channel or self.runtime.pubsub_channel
            drain = OutboxDrain(self.runtime, kinds, factory, tenant.tenant)
            self.drains.append(drain)
            self.scheduler.every(DRAIN_SECONDS, f"{tenant.tenant}:outbox", drain.run_once)
