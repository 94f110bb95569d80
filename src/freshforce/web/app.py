"""Build the dashboard app from its dependencies: the store, a clock and the settings.

``create_app`` builds no global: everything lives on ``app.state.deps``, so tests and the runtime
can each build their own app.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.exceptions import HTTPException as StarletteHTTPException

from freshforce import __version__
from freshforce.alerting import AlertTimer, channels_from_settings, load_rules
from freshforce.engine.queue import JobQueue, QueueConfig
from freshforce.runtime import Runtime
from freshforce.settings import Settings
from freshforce.web import (
    anomaly_routes,
    api,
    audit_log,
    configuration,
    connect,
    health,
    login,
    match_routes,
    pages,
    review,
    review_api,
    webhooks,
)
from freshforce.web.auth import LoginRequiredError
from freshforce.web.deps import Clock, WebDeps
from freshforce.web.health import RuntimeCollector, WebMetrics
from freshforce.web.nul import RefuseNul
from freshforce.web.ratelimit import LoginLimiter
from freshforce.web.sessions import SessionSigner, session_key
from freshforce.web.sparkline import Line, sparkline
from freshforce.web.views import when

if TYPE_CHECKING:
    import httpx

__all__ = ["create_app"]

_HERE = Path(__file__).parent


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    engine: AsyncEngine,
    *,
    settings: Settings,
    clock: Clock = _utc_now,
    limiter: LoginLimiter | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    runtime: Runtime | None = None,
) -> FastAPI:
    """Return the dashboard: pages, ``/api/``, ``/healthz``, ``/readyz`` and ``/metrics``.

    It also serves the FreshBooks webhook route (``/webhooks/freshbooks/{connection}``), which
    needs no login; ``transport`` routes its FreshBooks calls (and the Slack-style alert
    webhook) elsewhere, a sandbox or a receiver in tests. The route confirms callbacks with
    ``runtime`` (``freshforce run`` passes its own); without one it builds one on the first
    post. While the app runs (its lifespan), the alert timer evaluates the alert rules every
    ``alert_interval_seconds``.
    """
    # The service package imports this one: its targets are imported when an app is made.
    from freshforce.service.targets import mirror_event_flows  # noqa: PLC0415

    registry = CollectorRegistry()
    queue_config = QueueConfig(
        lease_seconds=settings.job_lease_seconds, max_attempts=settings.job_max_attempts
    )
    rules = load_rules(settings.alerts_file)
    channels = channels_from_settings(settings, transport=transport)
    deps = WebDeps(
        engine=engine,
        clock=clock,
        queue=JobQueue(engine, clock=clock, config=queue_config),
        signer=SessionSigner(session_key(settings)),
        limiter=limiter or LoginLimiter(clock=clock),
        templates=Jinja2Templates(directory=_HERE / "templates"),
        registry=registry,
        metrics=WebMetrics(registry),
        alert_rules=rules,
        alert_channels=tuple(channel.name for channel in channels),
        settings=settings,
        transport=transport,
        webhook_also=mirror_event_flows(settings.config_dir),
        runtime=runtime,
    )
    registry.register(RuntimeCollector(lambda: deps.runtime))
    deps.templates.env.filters["when"] = when
    deps.templates.env.globals["sparkline"] = sparkline
    deps.templates.env.globals["Line"] = Line
    timer = None
    if settings.alert_interval_seconds:
        timer = AlertTimer(
            engine,
            clock,
            rules,
            channels,
            settings.alert_interval_seconds,
            dashboard_url=settings.public_url,
        )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if timer is None:
            yield
            return
        stop = asyncio.Event()
        task = asyncio.create_task(timer.run(stop))
        try:
            yield
        finally:
            stop.set()
            await task

    app = FastAPI(
        lifespan=lifespan,
        title="freshforce dashboard",
        version=__version__,
        description="Monitor the sync: queue, dead letters, connections, alerts, audit log.",
    )
    app.add_middleware(RefuseNul)
    app.state.deps = deps
    app.state.webhooks = webhooks.FreshBooksHooks(
        lambda: runtime or Runtime(settings, engine, clock=clock, transport=transport)
    )
    app.mount("/static", StaticFiles(directory=_HERE / "static"), name="static")
    routers = (health, webhooks, login, api, review_api, pages, review, connect)
    for module in routers:
        app.include_router(module.router)
    for module in (match_routes, audit_log, configuration, anomaly_routes):
        app.include_router(module.api_router)
        app.include_router(module.router)

    @app.exception_handler(LoginRequiredError)
    async def _to_login(request: Request, exc: LoginRequiredError) -> Response:
        if request.headers.get("HX-Request"):
            # htmx would swap the login page into a panel; have it load the whole page instead,
            # coming back afterwards to the page the panel is on.
            page = urlsplit(request.headers.get("HX-Current-URL", "")).path or "/"
            location = LoginRequiredError(page).location
            return Response(status_code=401, headers={"HX-Redirect": location})
        return RedirectResponse(exc.location, status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def _error_page(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/api/") or "text/html" not in request.headers.get(
            "accept", ""
        ):
            return await http_exception_handler(request, exc)
        return pages.render(
            deps, request, "error.html", None, status_code=exc.status_code, detail=exc.detail
        )

    return app
