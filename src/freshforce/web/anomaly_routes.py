"""The anomalies page and its JSON API: writes the guard held or flagged, accept or reject.

Reads list the tenant's anomalies (``open``: held writes waiting; ``all``: with settled and
flagged ones). Accepting writes the change (the record's job runs again and the guard lets the
same write through); rejecting drops it. Settling needs an operator and the session's CSRF token
(the form field on the page, the ``X-CSRF-Token`` header on the API) and leaves an audit row.
The page also lists the tenant's paused flows (the update breaker's or an operator's), and an
operator resumes one there, under the same rules.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from freshforce.assist.breaker import resume
from freshforce.assist.review import settle
from freshforce.store.anomalies import Anomaly, get_anomaly, list_anomalies
from freshforce.store.audit import record_audit
from freshforce.store.pauses import list_pauses
from freshforce.web.auth import (
    Principal,
    api_operator,
    api_user,
    check_csrf,
    page_operator,
    page_user,
)
from freshforce.web.deps import WebDeps, web_deps
from freshforce.web.pages import render
from freshforce.web.views import plain

__all__ = ["api_router", "router"]

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api", tags=["api"])
Deps = Annotated[WebDeps, Depends(web_deps)]
Tenant = Annotated[str, Query(min_length=1, max_length=64)]
AnomalyId = Annotated[int, Path(ge=1, le=2**63 - 1)]  # a BIGINT id
# Any: JSON answers and template context.
Json = dict[str, Any]
_STATES = ("open", "all")


def _json(a: Anomaly) -> Json:
    return {
        "id": a.id, "tenant": a.tenant, "flow": a.flow, "record_key": a.record_key,
        "group": a.grp, "action": a.action, "status": a.status, "reasons": list(a.reasons),
        "write": dict(a.write), "decided_by": a.decided_by, "decided_at": plain(a.decided_at),
        "created_at": plain(a.created_at),
    }  # fmt: skip


async def _list(deps: WebDeps, tenant: str, state: str) -> list[Json]:
    if state not in _STATES:
        raise HTTPException(422, f"state: {state!r} is not one of open, all")
    async with deps.engine.connect() as db:
        found = await list_anomalies(db, tenant, status="open" if state == "open" else None)
    return [_json(a) for a in found]


async def _settle(deps: WebDeps, actor: str, tenant: str, anomaly_id: int, *, accept: bool) -> Json:
    """Accept or reject; 404 for no such anomaly, 409 for one not waiting."""
    async with deps.engine.connect() as db:
        known = await get_anomaly(db, tenant, anomaly_id)
    if known is None:
        raise HTTPException(404, f"no anomaly {anomaly_id} for tenant {tenant!r}")
    done = await settle(deps.engine, deps.queue, tenant, anomaly_id, accept=accept, by=actor)
    if done is None:
        raise HTTPException(409, f"anomaly {anomaly_id} is {known.status}, not waiting")
    async with deps.engine.begin() as db:
        await record_audit(
            db,
            actor=actor,
            action="anomaly.accept" if accept else "anomaly.reject",
            target=f"anomaly:{anomaly_id}",
            now=deps.clock(),
            detail={"tenant": tenant, "flow": done.flow, "key": done.record_key},
        )
    return _json(done)


@router.get("/anomalies")
async def anomalies_page(
    request: Request,
    deps: Deps,
    principal: Annotated[Principal, Depends(page_user)],
    state: str = "open",
    tenant: Tenant = "default",
) -> HTMLResponse:
    found = await _list(deps, tenant, state)
    async with deps.engine.connect() as db:
        paused = [
            {"flow": p.flow, "reason": p.reason, "paused_at": plain(p.paused_at)}
            for p in await list_pauses(db)
            if p.tenant == tenant
        ]
    return render(
        deps, request, "anomalies.html", principal, anomalies=found, state=state, tenant=tenant,
        paused=paused,
    )  # fmt: skip


@router.post("/flows/{flow}/resume")
async def resume_form(
    *,
    deps: Deps,
    principal: Annotated[Principal, Depends(page_operator)],
    flow: Annotated[str, Path(min_length=1, max_length=64)],
    tenant: Annotated[str, Form(min_length=1, max_length=64)] = "default",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(principal, csrf_token)
    async with deps.engine.begin() as db:
        if not await resume(db, tenant, flow, by=principal.username):
            raise HTTPException(409, f"{flow} is not paused for tenant {tenant!r}")
        await record_audit(
            db, actor=principal.username, action="flow.resume", target=f"flow:{tenant}/{flow}",
            now=deps.clock(), detail={"tenant": tenant, "flow": flow, "via": "web"},
        )  # fmt: skip
    back = "/anomalies?" + urlencode({"tenant": tenant})
    return RedirectResponse(back, status_code=status.HTTP_303_SEE_OTHER)


@router.post("/anomalies/{anomaly_id}/{decision}")
async def settle_form(
    *,
    deps: Deps,
    principal: Annotated[Principal, Depends(page_operator)],
    anomaly_id: AnomalyId,
    decision: str,
    tenant: Annotated[str, Form(min_length=1, max_length=64)] = "default",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(principal, csrf_token)
    if decision not in {"accept", "reject"}:
        raise HTTPException(404, f"no action {decision!r}: accept or reject")
    await _settle(deps, principal.username, tenant, anomaly_id, accept=decision == "accept")
    back = "/anomalies?" + urlencode({"tenant": tenant})
    return RedirectResponse(back, status_code=status.HTTP_303_SEE_OTHER)


@api_router.get("/anomalies", summary="Writes the anomaly guard held (open) or every one (all)")
async def list_api(
    deps: Deps,
    _: Annotated[Principal, Depends(api_user)],
    state: str = "open",
    tenant: Tenant = "default",
) -> list[Json]:
    return await _list(deps, tenant, state)


@api_router.get("/anomalies/{anomaly_id}", summary="One held or flagged write and its reasons")
async def get_api(
    deps: Deps,
    _: Annotated[Principal, Depends(api_user)],
    anomaly_id: AnomalyId,
    tenant: Tenant = "default",
) -> Json:
    async with deps.engine.connect() as db:
        found = await get_anomaly(db, tenant, anomaly_id)
    if found is None:
        raise HTTPException(404, f"no anomaly {anomaly_id} for tenant {tenant!r}")
    return _json(found)


@api_router.post("/anomalies/{anomaly_id}/accept", summary="Write a held change")
async def accept_api(
    deps: Deps,
    principal: Annotated[Principal, Depends(api_operator)],
    anomaly_id: AnomalyId,
    tenant: Tenant = "default",
) -> Json:
    return await _settle(deps, principal.username, tenant, anomaly_id, accept=True)


@api_router.post("/anomalies/{anomaly_id}/reject", summary="Drop a held change")
async def reject_api(
    deps: Deps,
    principal: Annotated[Principal, Depends(api_operator)],
    anomaly_id: AnomalyId,
    tenant: Tenant = "default",
) -> Json:
    return await _settle(deps, principal.username, tenant, anomaly_id, accept=False)
