"""Probes and metrics: ``/healthz``, ``/readyz`` and ``/metrics``.

``/healthz`` says the process answers, ``/readyz`` that the database is reachable and at the
newest migration, and ``/metrics`` gives Prometheus text read from the store at each scrape,
with the API calls and Salesforce budget of the process that calls the remote systems.

These three need no login: they show counts, never records or secrets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from freshforce.store.migrate import head
from freshforce.web.deps import WebDeps, web_deps
from freshforce.web.views import overview

if TYPE_CHECKING:
    from freshforce.runtime import Runtime

__all__ = ["RuntimeCollector", "WebMetrics", "router"]

router = APIRouter(tags=["operations"])


class WebMetrics:
    """The dashboard's Prometheus series, on the app's own registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.jobs = Gauge(
            "freshforce_queue_jobs",
            "Jobs in the store by flow and status, read at scrape time.",
            ["flow", "status"],
            registry=registry,
        )
        self.dead_letters = Gauge(
            "freshforce_dead_letters_open",
            "Dead letters not replayed yet.",
            registry=registry,
        )
        self.oldest_pending = Gauge(
            "freshforce_oldest_pending_job_age_seconds",
            "Age of the oldest pending job (0 when none waits).",
            registry=registry,
        )
        self.logins = Counter(
            "freshforce_web_logins",
            "Dashboard logins by outcome (ok, failed, limited).",
            ["outcome"],
            registry=registry,
        )
        self.webhooks = Counter(
            "freshforce_webhooks",
            "FreshBooks webhook posts by outcome (accepted, rejected) and HTTP status.",
            ["outcome", "status"],
            registry=registry,
        )


class RuntimeCollector(Collector):
    """API calls per connection and the Salesforce budget per org, read at scrape time.

    Both live in the process that calls the remote systems (``freshforce run``, whose web app
    gets its runtime); a web app without a runtime reports the families empty.
    """

    def __init__(self, runtime: Callable[[], Runtime | None]) -> None:
        self._runtime = runtime

    def collect(self) -> Iterator[Metric]:
        calls = CounterMetricFamily(
            "freshforce_api_calls",
            "Remote API calls this process made, per connection (retries count again).",
            labels=["connection"],
        )
        budget = {
            name: GaugeMetricFamily(f"freshforce_salesforce_api_{name}", what, labels=["org"])
            for name, what in (
                ("used", "Salesforce daily API requests used, per org, as of the last answer."),
                ("max", "Salesforce daily API request limit, per org."),
                ("remaining", "Salesforce daily API requests left, per org."),
            )
        }
        runtime = self._runtime()
        if runtime is not None:
            for connection, count in sorted(runtime.counter.snapshot().items()):
                calls.add_metric([connection], count)
            for org in runtime.governor.org_ids():
                shot = runtime.governor.snapshot(org)
                budget["used"].add_metric([org], shot.used)
                budget["max"].add_metric([org], shot.max_calls)
                budget["remaining"].add_metric([org], shot.remaining)
        yield calls
        yield from budget.values()


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database is reachable and migrated")
async def readyz(deps: Annotated[WebDeps, Depends(web_deps)]) -> JSONResponse:
    try:
        async with deps.engine.connect() as conn:
            revision = await conn.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    except (sa.exc.SQLAlchemyError, OSError) as exc:
        # The class name only: a driver message may carry the database URL.
        return JSONResponse(
            {"status": "unavailable", "reason": f"database: {type(exc).__name__}"}, 503
        )
    expected = head()
    if revision != expected:
        reason = (
            f"schema at {revision or 'nothing'}, expected {expected}; run `freshforce db upgrade`"
        )
        return JSONResponse({"status": "unavailable", "reason": reason}, 503)
    return JSONResponse({"status": "ready", "revision": revision})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(deps: Annotated[WebDeps, Depends(web_deps)]) -> Response:
    web: WebMetrics = deps.metrics
    view = await overview(deps)
    web.jobs.clear()
    for flow, counts in view["jobs_by_flow"].items():
        for status, count in counts.items():
            web.jobs.labels(flow=flow, status=status).set(count)
    web.dead_letters.set(view["dead_letters_open"])
    web.oldest_pending.set(view["oldest_pending_age_seconds"] or 0.0)
    return Response(generate_latest(deps.registry), media_type=CONTENT_TYPE_LATEST)
