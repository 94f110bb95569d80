"""The ``/_sandbox`` control plane every vendor server mounts: state, faults, clock and logs.

Routes (all JSON):

- ``POST /_sandbox/reset``: empty state, logs, faults, delivery mode and clock offset.
- ``POST /_sandbox/seed`` ``{"records": N, "seed": S}``: add N generated records of each kind.
- ``GET /_sandbox/snapshot``: the whole state.
- ``GET|POST /_sandbox/users`` ``{"name", "email", "role"}``: the users of the account/org (only
  on a server built with a ``UserDirectory``).
- ``POST /_sandbox/tokens`` ``{"user": ..., "client": ..., "expires_in": ...}``: a token without
  the browser flow, for any user and labelled with any OAuth client id.
- ``GET|POST|DELETE /_sandbox/faults``, ``DELETE /_sandbox/faults/{id}``: fault rules, optionally
  aimed at one ``user`` or OAuth ``client``.
- ``GET /_sandbox/deliveries``, ``PUT /_sandbox/deliveries/mode`` (optionally for one
  ``callback``), ``POST /_sandbox/deliveries/drain``: the webhook delivery log and its behaviour.
- ``GET|PUT /_sandbox/clock``, ``POST /_sandbox/clock/advance``: the sandbox clock.
- ``GET|DELETE /_sandbox/requests?user=&path=&method=``: the request log.

Wherever a body or query names a ``user``, it may be the id, the name, the e-mail or the username.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from freshforce.sandbox.core.delivery import DeliveryMode
from freshforce.sandbox.core.faults import FaultKind, FaultRule
from freshforce.sandbox.core.runtime import SandboxControl, SandboxRuntime
from freshforce.sandbox.core.users import UserDirectory

__all__ = ["admin_router"]

# Admin bodies are JSON objects of any shape chosen by the vendor's hooks.
JSON = dict[str, Any]
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_CLIENT_PATTERN = r"^[A-Za-z0-9_.:@-]{1,120}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SeedBody(_Strict):
    records: int = Field(default=10, ge=0, le=100_000)
    seed: int = 42


class UserBody(_Strict):
    name: str = Field(min_length=1, max_length=80, pattern=r"\S")
    email: str = Field(max_length=128, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    role: str | None = Field(default=None, min_length=1, max_length=80)


class TokenBody(_Strict):
    user: str | None = None
    client: str | None = Field(default=None, pattern=_CLIENT_PATTERN)
    expires_in: int | None = Field(default=None, ge=1)


class FaultBody(_Strict):
    kind: FaultKind
    method: str = "*"
    path: str = "*"
    regex: bool = False
    probability: float = Field(default=1.0, ge=0.0, le=1.0)
    times: int | None = Field(default=None, ge=1)
    status: int | None = Field(default=None, ge=400, le=599)
    retry_after: int = Field(default=1, ge=0)
    latency_ms: int = Field(default=0, ge=0)
    user: str | None = Field(default=None, min_length=1)
    client: str | None = Field(default=None, pattern=_CLIENT_PATTERN)
    field: str | None = Field(default=None, min_length=1, max_length=255)


class ModeBody(_Strict):
    lossy: float = Field(default=0.0, ge=0.0, le=1.0)
    duplicate: float = Field(default=0.0, ge=0.0, le=1.0)
    late_seconds: float = Field(default=0.0, ge=0.0)
    reorder_seconds: float = Field(default=0.0, ge=0.0)
    callback: str | int | None = None


class ClockBody(_Strict):
    offset_seconds: float


class AdvanceBody(_Strict):
    seconds: float


def admin_router(
    runtime: SandboxRuntime,
    control: SandboxControl,
    users: UserDirectory | None = None,
    callbacks: Callable[[str], bool] | None = None,
) -> APIRouter:
    """Build the ``/_sandbox`` routes of one server from its runtime and the vendor hooks.

    ``users`` adds the user routes and resolves user names; ``callbacks`` tells whether a
    callback id exists, so a delivery mode cannot be set for a typo.
    """
    router = APIRouter(prefix="/_sandbox", tags=["sandbox admin"])
    _state_routes(router, runtime, control, users)
    if users is not None:
        _user_routes(router, users)
    _fault_routes(router, runtime, users)
    _delivery_routes(router, runtime, callbacks)
    _clock_routes(router, runtime)
    _request_routes(router, runtime, users)
    return router


def _resolve(users: UserDirectory | None, user: str, where: str) -> str:
    """Return the id of ``user`` (an id, name, e-mail or username) or a 422 naming ``where``."""
    if users is None:
        raise HTTPException(422, f"{where}: this sandbox keeps no user directory")
    try:
        return users.find_user(user).id
    except LookupError as exc:
        raise HTTPException(422, f"{where}: {exc}") from exc


def _user_routes(router: APIRouter, users: UserDirectory) -> None:
    @router.get("/users")
    async def list_users() -> JSON:
        return {"users": [asdict(u) for u in users.list_users()]}

    @router.post("/users", status_code=201)
    async def add_user(body: UserBody) -> JSON:
        try:
            return asdict(users.add_user(body.name.strip(), body.email, body.role))
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc


def _state_routes(
    router: APIRouter,
    runtime: SandboxRuntime,
    control: SandboxControl,
    users: UserDirectory | None,
) -> None:
    @router.post("/reset")
    async def reset() -> JSON:
        control.reset()
        runtime.reset()
        return {"reset": True}

    @router.post("/seed")
    async def seed(body: SeedBody) -> JSON:
        return {"created": control.seed(body.records, body.seed)}

    @router.get("/snapshot")
    async def snapshot() -> JSON:
        return control.snapshot()

    @router.post("/tokens")
    async def mint_token(body: TokenBody) -> JSON:
        if users is None and body.client is not None:
            raise HTTPException(422, "client: this sandbox mints tokens for its own client only")
        try:
            if users is not None:
                return users.mint_for(body.user, body.client, body.expires_in)
            return control.mint_token(body.user, body.expires_in)
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from exc


def _fault_routes(router: APIRouter, runtime: SandboxRuntime, users: UserDirectory | None) -> None:
    @router.get("/faults")
    async def list_faults() -> JSON:
        return {"faults": [asdict(rule) for rule in runtime.faults.rules()]}

    @router.post("/faults", status_code=201)
    async def add_fault(body: FaultBody) -> JSON:
        fields = body.model_dump()
        if body.user is not None:
            fields["user"] = _resolve(users, body.user, "user")
        try:
            rule = runtime.faults.add(FaultRule(**fields))
        except ValueError as exc:  # an invalid regular expression
            raise HTTPException(422, f"path: {exc}") from exc
        return asdict(rule)

    @router.delete("/faults")
    async def clear_faults() -> JSON:
        runtime.faults.clear()
        return {"faults": []}

    @router.delete("/faults/{rule_id}")
    async def remove_fault(rule_id: int) -> JSON:
        if not runtime.faults.remove(rule_id):
            raise HTTPException(404, f"no fault rule with id {rule_id}")
        return {"removed": rule_id}


def _delivery_routes(
    router: APIRouter, runtime: SandboxRuntime, callbacks: Callable[[str], bool] | None
) -> None:
    @router.get("/deliveries")
    async def deliveries(event: str | None = None, callback: str | None = None) -> JSON:
        queue = runtime.deliveries
        attempts = queue.log.entries(event)
        if callback is not None:
            attempts = [a for a in attempts if a.callback == callback]
        return {
            "pending": queue.pending(),
            "mode": asdict(queue.mode),
            "modes": {key: asdict(mode) for key, mode in sorted(queue.modes.items())},
            "attempts": [asdict(a) for a in attempts],
        }

    @router.put("/deliveries/mode")
    async def set_mode(body: ModeBody) -> JSON:
        fields = body.model_dump(exclude={"callback"})
        callback = None if body.callback is None else str(body.callback)
        if callback is not None and (callbacks is None or not callbacks(callback)):
            raise HTTPException(422, f"callback: no webhook callback with id {callback!r}")
        mode = DeliveryMode(**fields)
        runtime.deliveries.set_mode(mode, callback)
        if callback is None:
            return asdict(mode)
        return {**asdict(mode), "callback": callback}

    @router.post("/deliveries/drain")
    async def drain(wait_seconds: float = 30.0) -> JSON:
        drained = await runtime.deliveries.drain(wait_seconds)
        return {"drained": drained, "pending": runtime.deliveries.pending()}


def _clock_routes(router: APIRouter, runtime: SandboxRuntime) -> None:
    def _clock() -> JSON:
        return {"now": runtime.clock.now().isoformat(), "offset_seconds": runtime.clock.offset}

    @router.get("/clock")
    async def get_clock() -> JSON:
        return _clock()

    @router.put("/clock")
    async def set_clock(body: ClockBody) -> JSON:
        runtime.clock.set_offset(body.offset_seconds)
        return _clock()

    @router.post("/clock/advance")
    async def advance(body: AdvanceBody) -> JSON:
        runtime.clock.advance(body.seconds)
        return _clock()


def _request_routes(
    router: APIRouter, runtime: SandboxRuntime, users: UserDirectory | None
) -> None:
    @router.get("/requests")
    async def requests(
        user: str | None = None, path: str | None = None, method: str | None = None
    ) -> JSON:
        if user is not None and users is not None:
            # An id nobody has stays as given: the filter then matches nothing, as before.
            with contextlib.suppress(LookupError):
                user = users.find_user(user).id
        found = runtime.requests.entries(user, path, _methods(method))
        return {"requests": [asdict(e) for e in found]}

    @router.delete("/requests")
    async def clear_requests() -> JSON:
        runtime.requests.clear()
        return {"requests": []}


def _methods(method: str | None) -> frozenset[str] | None:
    """Parse ``method=PATCH,DELETE`` (or ``writes``: POST, PUT, PATCH, DELETE); 422 if unknown."""
    if method is None:
        return None
    wanted: set[str] = set()
    for part in (p.strip().upper() for p in method.split(",")):
        if part == "WRITES":
            wanted |= WRITE_METHODS
        elif part in {"GET", "HEAD", "OPTIONS", *WRITE_METHODS}:
            wanted.add(part)
        else:
            raise HTTPException(
                422, f"method: {part!r} is not an HTTP method (or 'writes'); e.g. method=PATCH"
            )
    return frozenset(wanted)
