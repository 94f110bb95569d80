"""What every route needs, built once per app: the store, the clock, the queue, the signer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from fastapi import Path, Request
from fastapi.templating import Jinja2Templates
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.engine.queue import JobQueue

if TYPE_CHECKING:
    import httpx

    from freshforce.alerting.rules import AlertRule
    from freshforce.runtime import Runtime
    from freshforce.settings import Settings
    from freshforce.web.health import WebMetrics
from freshforce.web.budget import BudgetHistory
from freshforce.web.ratelimit import LoginLimiter
from freshforce.web.sessions import SessionSigner

__all__ = ["MAX_ROW_ID", "Clock", "RowId", "WebDeps", "web_deps"]

Clock = Callable[[], datetime]
MAX_ROW_ID = 2**63 - 1  # ids are BIGINT: a larger number names no row (and no database takes it)
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


@dataclass(frozen=True)
class WebDeps:
    """The app's dependencies, kept on ``app.state.deps``."""

    engine: AsyncEngine
    clock: Clock
    queue: JobQueue
    signer: SessionSigner
    limiter: LoginLimiter
    templates: Jinja2Templates
    registry: CollectorRegistry
    metrics: WebMetrics
    alert_rules: tuple[AlertRule, ...] = ()
    alert_channels: tuple[str, ...] = ()  # names only: addresses and passwords stay out
    settings: Settings | None = None  # for the OAuth connect pages
    transport: httpx.AsyncBaseTransport | None = None  # their token calls (a sandbox in tests)
    # FreshBooks event kind (``invoice``) → the mirror flows it feeds besides its own flow
    webhook_also: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    runtime: Runtime | None = None  # freshforce run's: its governor's API budget figures
    budget: BudgetHistory = field(default_factory=BudgetHistory)


def web_deps(request: Request) -> WebDeps:
    """Return the app's :class:`WebDeps` (a FastAPI dependency)."""
    deps: WebDeps = request.app.state.deps
    return deps
