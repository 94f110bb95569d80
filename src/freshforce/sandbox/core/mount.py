"""Fitting the shared machinery onto a vendor's FastAPI app: middlewares and the admin routes."""

from __future__ import annotations

from fastapi import FastAPI

from freshforce.sandbox.core.admin import admin_router
from freshforce.sandbox.core.faults import FaultMiddleware, FaultRenderer
from freshforce.sandbox.core.requestlog import RequestLogMiddleware
from freshforce.sandbox.core.runtime import SandboxControl, SandboxRuntime

__all__ = ["install"]


def install(
    app: FastAPI, runtime: SandboxRuntime, control: SandboxControl, renderer: FaultRenderer
) -> None:
    """Add fault injection, the request log and the ``/_sandbox`` routes to ``app``.

    Starlette wraps each added middleware around the ones added before, so the request log sits
    outside fault injection: a request answered by a fault rule is logged like any other.
    """
    app.include_router(admin_router(runtime, control))
    app.add_middleware(FaultMiddleware, faults=runtime.faults, renderer=renderer)
    app.add_middleware(RequestLogMiddleware, log=runtime.requests, clock=runtime.clock)
