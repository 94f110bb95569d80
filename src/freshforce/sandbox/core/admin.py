"""The ``/_sandbox`` control plane every vendor server mounts: state, faults, clock and logs.

Routes (all JSON):

- ``POST /_sandbox/reset``: empty state, logs, faults, delivery mode and clock offset.
- ``POST /_sandbox/seed`` ``{"records": N, "seed": S}``: add N generated records of each kind.
- ``GET /_sandbox/snapshot``: the whole state.
- ``POST /_sandbox/tokens`` ``{"user": ..., "expires_in": ...}``: a token without the browser flow.
- ``GET|POST|DELETE /_sandbox/faults``, ``DELETE /_sandbox/faults/{id}``: fault rules.
- ``GET /_sandbox/deliveries``, ``PUT /_sandbox/deliveries/mode``,
  ``POST /_sandbox/deliveries/drain``: the webhook/CDC delivery log and its behaviour.
- ``GET|PUT /_sandbox/clock``, ``POST /_sandbox/clock/advance``: the sandbox clock.
- ``GET|DELETE /_sandbox/requests?user=&path=``: the request log.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from freshforce.sandbox.core.delivery import DeliveryMode
from freshforce.sandbox.core.faults import FaultKind, FaultRule
from freshforce.sandbox.core.runtime import SandboxControl, SandboxRuntime

__all__ = ["admin_router"]

# Admin bodies are JSON objects of any shape chosen by the vendor's hooks.
JSON = dict[str, Any]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SeedBody(_Strict):
    records: int = Field(default=10, ge=0, le=100_000)
    seed: int = 42


class TokenBody(_Strict):
    user: str | None = None
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


class ModeBody(_Strict):
    lossy: float = Field(default=0.0, ge=0.0, le=1.0)
    duplicate: float = Field(default=0.0, ge=0.0, le=1.0)
    late_seconds: float = Field(default=0.0, ge=0.0)
    reorder_seconds: float = Field(default=0.0, ge=0.0)


class ClockBody(_Strict):
    offset_seconds: float


class AdvanceBody(_Strict):
    seconds: float


def admin_router(runtime: SandboxRuntime, control: SandboxControl) -> APIRouter:
    """Build the ``/_sandbox`` routes of one server from its runtime and the vendor hooks."""
    router = APIRouter(prefix="/_sandbox", tags=["sandbox admin"])
    _state_routes(router, runtime, control)
    _fault_routes(router, runtime)
    _delivery_routes(router, runtime)
    _clock_routes(router, runtime)
    _request_routes(router, runtime)
    return router


def _state_routes(router: APIRouter, runtime: SandboxRuntime, control: SandboxControl) -> None:
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
        try:
            return control.mint_token(body.user, body.expires_in)
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from exc


def _fault_routes(router: APIRouter, runtime: SandboxRuntime) -> None:
    @router.get("/faults")
    async def list_faults() -> JSON:
        return {"faults": [asdict(rule) for rule in runtime.faults.rules()]}

    @router.post("/faults", status_code=201)
    async def add_fault(body: FaultBody) -> JSON:
        try:
            rule = runtime.faults.add(FaultRule(**body.model_dump()))
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


def _delivery_routes(router: APIRouter, runtime: SandboxRuntime) -> None:
    @router.get("/deliveries")
    async def deliveries(event: str | None = None) -> JSON:
        queue = runtime.deliveries
        return {
            "pending": queue.pending(),
            "mode": asdict(queue.mode),
            "attempts": [asdict(a) for a in queue.log.entries(event)],
        }

    @router.put("/deliveries/mode")
    async def set_mode(body: ModeBody) -> JSON:
        runtime.deliveries.mode = DeliveryMode(**body.model_dump())
        return asdict(runtime.deliveries.mode)

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


def _request_routes(router: APIRouter, runtime: SandboxRuntime) -> None:
    @router.get("/requests")
    async def requests(user: str | None = None, path: str | None = None) -> JSON:
        return {"requests": [asdict(e) for e in runtime.requests.entries(user, path)]}

    @router.delete("/requests")
    async def clear_requests() -> JSON:
        runtime.requests.clear()
        return {"requests": []}
