"""Assembling the FreshBooks sandbox: state, shared runtime, routes, webhooks and persistence."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from freshforce.sandbox.core import FaultRule, SandboxRuntime, install
from freshforce.sandbox.core.faults import ASGIApp, Receive, Scope, Send
from freshforce.sandbox.freshbooks.api import accounting_router, identity_router
from freshforce.sandbox.freshbooks.errors import (
    ERRNO,
    FreshBooksApiError,
    FreshBooksFaultRenderer,
    accounting_error,
    events_error,
    family_of,
    oauth_error,
)
from freshforce.sandbox.freshbooks.events_api import events_router
from freshforce.sandbox.freshbooks.oauth_api import oauth_router
from freshforce.sandbox.freshbooks.state import DEFAULT_IDENTITY, FreshBooksState, Identity
from freshforce.sandbox.freshbooks.ui_routes import freshbooks_ui_router
from freshforce.sandbox.freshbooks.users import FreshBooksUsers, author_of
from freshforce.sandbox.freshbooks.webhooks import WebhookPublisher

__all__ = ["FreshBooksOptions", "FreshBooksSandbox", "build_freshbooks"]

NOT_FOUND = 404


@dataclass(frozen=True)
class FreshBooksOptions:
    """How to start the FreshBooks sandbox."""

    seed: int = 42
    records: int = 0
    auto_approve: bool = False
    token_lifetime: int = 43_200
    state_file: Path | None = None
    latency_ms: int = 0
    # The business, its account and owner; None is the one-account default (``SBX7QK``).
    owner: Identity | None = None


@dataclass(frozen=True)
class FreshBooksSandbox:
    """A built FreshBooks sandbox: the ASGI app and what it runs on."""

    app: FastAPI
    state: FreshBooksState
    runtime: SandboxRuntime
    options: FreshBooksOptions


def build_freshbooks(
    options: FreshBooksOptions, runtime: SandboxRuntime | None = None
) -> FreshBooksSandbox:
    """Build the app; load ``state_file`` if it exists, else seed ``records`` records."""
    runtime = runtime or SandboxRuntime.create(options.seed)
    state = FreshBooksState(
        runtime.clock, options.seed, options.token_lifetime, options.owner or DEFAULT_IDENTITY
    )
    loaded = options.state_file is not None and state.load(options.state_file)
    if not loaded and options.records:
        state.seed(options.records, options.seed)
    publisher = WebhookPublisher(state.callbacks, runtime.deliveries, state.ids_of)
    state.accounting.listeners.append(publisher.on_change)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await runtime.aclose()
        if options.state_file is not None:
            state.save(options.state_file)

    app = FastAPI(
        title="freshforce FreshBooks sandbox",
        lifespan=lifespan,
        docs_url="/_sandbox/docs",
        openapi_url="/_sandbox/openapi.json",
        redoc_url=None,
    )
    app.include_router(oauth_router(state, auto_approve=options.auto_approve))
    app.include_router(identity_router(state))
    app.include_router(accounting_router(state))
    app.include_router(events_router(state, publisher))
    app.include_router(
        freshbooks_ui_router(state.accounting, lambda user: author_of(state.find_identity(user)))
    )
    _error_handlers(app)
    install(
        app,
        runtime,
        state,
        FreshBooksFaultRenderer(),
        users=FreshBooksUsers(state),
        callbacks=lambda callback: callback.isdigit() and int(callback) in state.callbacks.records,
    )
    if options.state_file is not None:
        app.add_middleware(_SaveAfterWrites, state=state, path=options.state_file)
    if options.latency_ms:
        runtime.faults.add(FaultRule(kind="latency", latency_ms=options.latency_ms))
    return FreshBooksSandbox(app, state, runtime, options)


class _SaveAfterWrites:
    """Write the state file after every request that may have changed state."""

    def __init__(self, app: ASGIApp, state: FreshBooksState, path: Path) -> None:
        self._app = app
        self._state = state
        self._path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._app(scope, receive, send)
        finally:
            if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD", "OPTIONS"):
                self._state.save(self._path)


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(FreshBooksApiError)
    async def api_error(_request: Request, exc: FreshBooksApiError) -> JSONResponse:
        return JSONResponse(exc.body, exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = f"{where}: {first.get('msg', 'invalid value')}"
        return _shaped(request.url.path, 400, message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code == NOT_FOUND:
            message = "Requested resource could not be found."
        return _shaped(request.url.path, exc.status_code, message)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, _exc: Exception) -> JSONResponse:
        return _shaped(request.url.path, 500, "Unexpected error.")


def _shaped(path: str, status: int, message: str) -> JSONResponse:
    family = family_of(path)
    if path.startswith("/_sandbox"):
        return JSONResponse({"detail": message}, status)
    if family == "events":
        error = events_error(status, 422 if status == 400 else status, message)  # noqa: PLR2004
    elif family in ("identity", "oauth"):
        error = oauth_error(status, "invalid_request" if status < 500 else "server_error", message)  # noqa: PLR2004
    else:
        errno = {400: ERRNO["invalid_value"], 404: ERRNO["unknown_resource"]}.get(status, status)
        error = accounting_error(status, errno, message)
    return JSONResponse(error.body, status)
