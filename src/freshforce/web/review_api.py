"""The JSON API of the review pages: a record's timeline, conflicts, and settling one.

Behind the same login as ``api.py``; settling needs an operator (and, with a session cookie,
the ``X-CSRF-Token`` header).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, Field

from freshforce.store.conflicts import Resolution
from freshforce.web import conflict_views
from freshforce.web.actions import NotFoundError
from freshforce.web.auth import Principal, api_operator, api_user
from freshforce.web.deps import WebDeps, web_deps
from freshforce.web.timeline import TimelineSearch, record_timeline

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["api"])
Deps = Annotated[WebDeps, Depends(web_deps)]
Viewer = Annotated[Principal, Depends(api_user)]
Operator = Annotated[Principal, Depends(api_operator)]
Tenant = Annotated[str, Query(min_length=1, max_length=64)]
ConflictId = Annotated[int, Path(ge=1, le=2**63 - 1)]  # a BIGINT id
# Any: JSON answers of the shapes ``timeline.py`` and ``conflict_views.py`` document.
Json = dict[str, Any]


class Settle(BaseModel):
    """How to settle a conflict: one side's value, or ``value`` with ``take: value``."""

    take: Resolution
    value: Any = None  # Any: a JSON wire value, used only with take "value"
    tenant: str = Field(default="default", min_length=1, max_length=64)


@router.get("/records/timeline", summary="One business record's timeline across both systems")
async def timeline(
    *,
    deps: Deps,
    _: Viewer,
    q: Annotated[str, Query(min_length=1, max_length=320)],
    by: Literal["auto", "name"] = "auto",
    flow: str | None = None,
    tenant: Tenant = "default",
) -> Json:
    try:
        return await record_timeline(deps, TimelineSearch(q, by=by, flow=flow, tenant=tenant))
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


@router.get("/conflicts", summary="Conflicts, oldest first")
async def conflicts(
    deps: Deps,
    _: Viewer,
    state: Literal["open", "resolved", "all"] = "open",
    tenant: Tenant = "default",
) -> list[Json]:
    return await conflict_views.conflicts_view(deps, tenant, state)


@router.get("/conflicts/{conflict_id}", summary="One conflict with both sides' values")
async def conflict(
    deps: Deps, _: Viewer, conflict_id: ConflictId, tenant: Tenant = "default"
) -> Json:
    try:
        return await conflict_views.conflict_view(deps, tenant, conflict_id)
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from None


@router.post("/conflicts/{conflict_id}/resolve", summary="Settle a conflict and re-sync its link")
async def resolve(deps: Deps, principal: Operator, conflict_id: ConflictId, body: Settle) -> Json:
    try:
        return await conflict_views.resolve(
            deps,
            principal.username,
            body.tenant,
            conflict_id,
            take=body.take,
            value=body.value,
        )
    except LookupError as exc:
        code = 404 if isinstance(exc, NotFoundError) else 409
        raise HTTPException(code, str(exc)) from None
