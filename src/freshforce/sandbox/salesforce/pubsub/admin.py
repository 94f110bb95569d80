"""The ``/_sandbox/pubsub`` admin routes: retention, keepalive, outage and gap events on demand.

Routes (all JSON), mounted on the Salesforce sandbox's REST app next to ``/_sandbox``:

- ``GET /_sandbox/pubsub``: the controls and the change log's oldest/latest replay ids.
- ``PUT /_sandbox/pubsub`` ``{"retention_seconds", "keepalive_seconds", "idle_close_seconds",
  "unavailable"}`` (any subset): change them; the next call or wait uses the new values.
- ``POST /_sandbox/pubsub/gaps`` ``{"entity", "change_type", "record_ids"}``: commit a
  header-only ``GAP_*`` event, as Salesforce sends when it cannot describe a change.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from freshforce.sandbox.salesforce.changes import ChangeLog
from freshforce.sandbox.salesforce.pubsub.controls import PubSubControls
from freshforce.sandbox.salesforce.pubsub.gaps import emit_gap
from freshforce.sandbox.salesforce.pubsub.topics import TopicRegistry

__all__ = ["pubsub_admin_router"]

# Admin answers are small JSON objects.
JSON = dict[str, Any]
GapType = Literal["GAP_CREATE", "GAP_UPDATE", "GAP_DELETE", "GAP_UNDELETE", "GAP_OVERFLOW"]


class ControlsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    retention_seconds: float | None = Field(default=None, gt=0)
    keepalive_seconds: float | None = Field(default=None, gt=0)
    idle_close_seconds: float | None = Field(default=None, gt=0)
    unavailable: bool | None = None


class GapBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entity: str = Field(min_length=1)
    change_type: GapType = "GAP_UPDATE"
    record_ids: list[str] = Field(default_factory=list)


def _describe(controls: PubSubControls, log: ChangeLog) -> JSON:
    return {
        "retention_seconds": controls.retention.total_seconds(),
        "keepalive_seconds": controls.keepalive_seconds,
        "idle_close_seconds": controls.idle_close_seconds,
        "unavailable": controls.unavailable,
        "oldest_replay_id": log.oldest_replay_id(),
        "latest_replay_id": log.latest_replay_id(),
    }


def _apply(controls: PubSubControls, body: ControlsBody) -> None:
    if body.retention_seconds is not None:
        controls.retention = timedelta(seconds=body.retention_seconds)
    if body.keepalive_seconds is not None:
        controls.keepalive_seconds = body.keepalive_seconds
    if body.idle_close_seconds is not None:
        controls.idle_close_seconds = body.idle_close_seconds
    if body.unavailable is not None:
        controls.unavailable = body.unavailable


def pubsub_admin_router(
    *,
    controls: PubSubControls,
    log: ChangeLog,
    registry: TopicRegistry,
    clock: Callable[[], datetime],
    commit_user: Callable[[], str],
    rng: random.Random,
) -> APIRouter:
    """Build the ``/_sandbox/pubsub`` routes over one server's controls and change log."""
    router = APIRouter(prefix="/_sandbox/pubsub", tags=["sandbox admin"])

    @router.get("")
    async def show() -> JSON:
        return _describe(controls, log)

    @router.put("")
    async def change(body: ControlsBody) -> JSON:
        _apply(controls, body)
        return _describe(controls, log)

    @router.post("/gaps", status_code=201)
    async def gap(body: GapBody) -> JSON:
        if body.entity not in registry.entity_names():
            raise HTTPException(404, f"entity {body.entity!r} has no change data capture")
        try:
            record = emit_gap(
                log,
                entity_name=body.entity,
                change_type=body.change_type,
                record_ids=tuple(body.record_ids),
                transaction_key=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                commit_timestamp_ms=int(clock().timestamp() * 1000),
                commit_user=commit_user(),
            )
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        return {"replay_id": record.replay_id, "change_type": record.change_type}

    return router
