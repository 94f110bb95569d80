"""The review pages: a record's timeline, the conflicts queue, one conflict and settling it.

Reads go through ``timeline.py`` and ``conflict_views.py``, the same functions the JSON API
uses; settling needs an operator and the session's CSRF token, as every other form.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from freshforce.store.conflicts import Resolution
from freshforce.web import conflict_views
from freshforce.web.actions import NotFoundError
from freshforce.web.auth import Principal, check_csrf, page_operator, page_user
from freshforce.web.deps import WebDeps, web_deps
from freshforce.web.pages import render
from freshforce.web.timeline import TimelineSearch, record_timeline

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
Deps = Annotated[WebDeps, Depends(web_deps)]
Viewer = Annotated[Principal, Depends(page_user)]
Operator = Annotated[Principal, Depends(page_operator)]
Tenant = Annotated[str, Query(min_length=1, max_length=64)]
ConflictId = Annotated[int, Path(ge=1, le=2**63 - 1)]  # a BIGINT id
_STATES = ("open", "resolved", "all")


@router.get("/records")
async def records_page(
    *,
    request: Request,
    deps: Deps,
    principal: Viewer,
    q: Annotated[str, Query(max_length=320)] = "",
    by: str = "auto",
    flow: str = "",
    tenant: Tenant = "default",
) -> HTMLResponse:
    search = TimelineSearch(q, by=by, flow=flow or None, tenant=tenant)
    context: dict[str, Any] = {"search": search, "record": None, "error": None}  # Any: template
    code = 200
    if q.strip():
        try:
            context["record"] = await record_timeline(deps, search)
        except ValueError as exc:
            context["error"], code = str(exc), 422
    return render(deps, request, "records.html", principal, status_code=code, **context)


@router.get("/conflicts")
async def conflicts_page(
    request: Request, deps: Deps, principal: Viewer, state: str = "open", tenant: Tenant = "default"
) -> HTMLResponse:
    if state not in _STATES:
        raise HTTPException(422, f"state: {state!r} is not one of open, resolved, all")
    found = await conflict_views.conflicts_view(deps, tenant, state)
    return render(
        deps, request, "conflicts.html", principal, conflicts=found, state=state, tenant=tenant
    )


async def _conflict_page(
    request: Request,
    deps: WebDeps,
    principal: Principal,
    tenant: str,
    conflict_id: int,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    try:
        found = await conflict_views.conflict_view(deps, tenant, conflict_id)
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    return render(
        deps,
        request,
        "conflict.html",
        principal,
        status_code=status_code,
        conflict=found,
        tenant=tenant,
        error=error,
    )


@router.get("/conflicts/{conflict_id}")
async def conflict_page(
    request: Request,
    deps: Deps,
    principal: Viewer,
    conflict_id: ConflictId,
    tenant: Tenant = "default",
) -> HTMLResponse:
    return await _conflict_page(request, deps, principal, tenant, conflict_id)


@router.post("/conflicts/{conflict_id}/resolve")
async def resolve_conflict(
    *,
    request: Request,
    deps: Deps,
    principal: Operator,
    conflict_id: ConflictId,
    take: Annotated[str, Form()] = "",
    value: Annotated[str, Form(max_length=100_000)] = "",
    value_type: Annotated[str, Form()] = "text",
    tenant: Annotated[str, Form(min_length=1, max_length=64)] = "default",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(principal, csrf_token)
    try:
        chosen = Resolution(take)
        typed = conflict_views.parse_value(value, value_type) if take == "value" else None
    except ValueError as exc:
        problem = str(exc) if take == "value" else f"take: {take!r} is not one of {_TAKES}"
        return await _conflict_page(
            request, deps, principal, tenant, conflict_id, error=problem, status_code=422
        )
    try:
        await conflict_views.resolve(
            deps, principal.username, tenant, conflict_id, take=chosen, value=typed
        )
    except LookupError as exc:
        code = 404 if isinstance(exc, NotFoundError) else 409
        raise HTTPException(code, str(exc)) from None
    location = f"/conflicts/{conflict_id}?{urlencode({'tenant': tenant})}"
    return RedirectResponse(location, status_code=status.HTTP_303_SEE_OTHER)


_TAKES = ", ".join(r.value for r in Resolution)
