"""The Salesforce sandbox's HTTP app: ``create_app`` wires OAuth, REST, admin and fault routes.

Everything the app needs is passed in (state, sessions, the shared sandbox runtime), so tests and
the ``freshforce sandbox`` command build their own and nothing is global. The REST routes live
in ``routes_*`` modules, each a router factory.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from freshforce.sandbox.core import SandboxRuntime, install
from freshforce.sandbox.salesforce.bulk_api import BulkJobs, bulk_router
from freshforce.sandbox.salesforce.control import SalesforceControl, salesforce_admin_router
from freshforce.sandbox.salesforce.errors import SalesforceError, json_parser_error
from freshforce.sandbox.salesforce.faults import SalesforceFaults
from freshforce.sandbox.salesforce.oauth import oauth_router
from freshforce.sandbox.salesforce.rest import WireMiddleware, salesforce_error_response
from freshforce.sandbox.salesforce.routes_composite import composite_router
from freshforce.sandbox.salesforce.routes_query import QueryCursors, query_router
from freshforce.sandbox.salesforce.routes_sobjects import sobject_router
from freshforce.sandbox.salesforce.sessions import OAuthError, Sessions
from freshforce.sandbox.salesforce.state import SalesforceState
from freshforce.sandbox.salesforce.ui_routes import salesforce_ui_router

__all__ = ["create_app"]


def create_app(
    state: SalesforceState,
    sessions: Sessions,
    runtime: SandboxRuntime | None = None,
    control: SalesforceControl | None = None,
) -> FastAPI:
    """Build the Salesforce REST/OAuth app around one org's state and sessions.

    With a ``runtime`` the shared ``/_sandbox`` admin API, fault injection and request log are
    installed, plus the Salesforce admin routes under ``/_sandbox/salesforce``.
    """
    app = FastAPI(title="freshforce Salesforce sandbox", docs_url=None, redoc_url=None)
    cursors = QueryCursors(clock=state.clock)
    app.include_router(oauth_router(state, sessions))
    app.include_router(sobject_router(state, sessions))
    app.include_router(composite_router(state, sessions, cursors))
    app.include_router(query_router(state, sessions, cursors))
    app.include_router(bulk_router(BulkJobs(state), state, sessions))
    _error_handlers(app)
    if runtime is not None:
        control = control or SalesforceControl(state, sessions, cursors)
        app.include_router(salesforce_admin_router(control))
        app.include_router(salesforce_ui_router(control))
        install(app, runtime, control, SalesforceFaults(), users=control.users)
    app.add_middleware(WireMiddleware, allocation=state.allocation)
    return app


def _error_handlers(app: FastAPI) -> None:
    async def on_salesforce_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SalesforceError)  # noqa: S101 - registered for this type
        return salesforce_error_response(exc)

    async def on_oauth_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, OAuthError)  # noqa: S101 - registered for this type
        return JSONResponse(exc.body(), status_code=exc.status)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this type
        if not request.url.path.startswith("/services/"):
            return await request_validation_exception_handler(request, exc)
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return salesforce_error_response(json_parser_error(where))

    app.add_exception_handler(SalesforceError, on_salesforce_error)
    app.add_exception_handler(OAuthError, on_oauth_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
