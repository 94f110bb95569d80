"""Fitting the shared machinery onto a vendor's FastAPI app: middlewares and the admin routes."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from freshforce.sandbox.core.admin import admin_router
from freshforce.sandbox.core.faults import FaultMiddleware, FaultRenderer
from freshforce.sandbox.core.requestlog import RequestLogMiddleware
from freshforce.sandbox.core.runtime import SandboxControl, SandboxRuntime
from freshforce.sandbox.core.users import UserDirectory, caller_of_scope

__all__ = ["install"]


def install(
    app: FastAPI,
    runtime: SandboxRuntime,
    control: SandboxControl,
    renderer: FaultRenderer,
    *,
    users: UserDirectory | None = None,
    callbacks: Callable[[str], bool] | None = None,
) -> None:
    """Add fault injection, the request log and the ``/_sandbox`` routes to ``app``.

    Starlette wraps each added middleware around the ones added before, so the request log sits
    outside fault injection: a request answered by a fault rule is logged like any other.
    With ``users`` the server holds several users: ``/_sandbox/users``, fault rules aimed at one
    caller, and user names in the request log. ``callbacks`` checks the callback id of a
    per-callback delivery mode.
    """
    app.include_router(admin_router(runtime, control, users, callbacks))
    identify = caller_of_scope(users) if users is not None else None
    app.add_middleware(FaultMiddleware, faults=runtime.faults, renderer=renderer, identify=identify)
    app.add_middleware(
        RequestLogMiddleware,
        log=runtime.requests,
        clock=runtime.clock,
        name_of=_name_of(users) if users is not None else None,
    )


def _name_of(users: UserDirectory) -> Callable[[str], str | None]:
    def name(user_id: str) -> str | None:
        try:
            return users.find_user(user_id).name
        except LookupError:
            return None

    return name
