"""The JSON API under ``/api/``: everything the pages show and do, behind the same login.

Calls authenticate with the session cookie (log in through ``POST /login``); writes also need the
session's CSRF token in the ``X-CSRF-Token`` header, which ``GET /api/me`` returns.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, Field

from freshforce.engine.queue import JobStatus
from freshforce.store.overview import job_exists
from freshforce.web import actions, views
from freshforce.web.auth import Principal, api_operator, api_user
from freshforce.web.connect import CONNECTION_NAME, forget_connection
from freshforce.web.deps import MAX_ROW_ID, RowId, WebDeps, web_deps

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["api"])
Deps = Annotated[WebDeps, Depends(web_deps)]
Viewer = Annotated[Principal, Depends(api_user)]
Operator = Annotated[Principal, Depends(api_operator)]
Limit = Annotated[int, Query(ge=1, le=1000)]
# Any: JSON answers of the shapes ``views.py`` documents.
Json = dict[str, Any]


class PayloadEdit(BaseModel):
    """A new payload for a dead letter: ``{"hints": [...]}``."""

    payload: dict[str, Any]  # Any: checked by payload_hints, which names the wrong part


class ReplayMany(BaseModel):
    """Dead letters to replay."""

    ids: list[Annotated[int, Field(ge=1, le=MAX_ROW_ID)]] = Field(min_length=1, max_length=1000)


class Discard(BaseModel):
    """Why a dead letter is dropped for good."""

    reason: str = Field(min_length=1, max_length=1000)


def _lookup_error(exc: LookupError) -> HTTPException:
    return HTTPException(404 if isinstance(exc, actions.NotFoundError) else 409, str(exc))


@router.get("/me", summary="The logged-in user, role and CSRF token")
async def me(principal: Viewer) -> Json:
    return {
        "username": principal.username,
        "role": principal.role.value,
        "csrf_token": principal.csrf_token,
    }


@router.get("/overview", summary="Queue depth, oldest job, dead letters, connections, alerts")
async def overview(deps: Deps, _: Viewer) -> Json:
    return await views.overview(deps)


@router.get("/jobs", summary="Jobs, newest first")
async def jobs(
    deps: Deps,
    _: Viewer,
    status: JobStatus | None = None,
    flow: str | None = None,
    limit: Limit = 100,
) -> list[Json]:
    found = await deps.queue.jobs(status=status, flow=flow, limit=limit)
    return [views.plain(asdict(job)) for job in found]


@router.get("/jobs/{job_id}/attempts", summary="Every attempt of one job")
async def job_attempts(deps: Deps, _: Viewer, job_id: RowId) -> list[Json]:
    async with deps.engine.connect() as conn:
        if not await job_exists(conn, job_id):
            raise HTTPException(404, f"no job {job_id}")
    return [views.plain(asdict(a)) for a in await deps.queue.attempts(job_id)]


@router.get("/dead-letters", summary="Dead letters, newest first, filtered")
async def dead_letters(
    *,
    deps: Deps,
    _: Viewer,
    flow: str | None = None,
    error_class: str | None = None,
    key: str | None = None,
    include_replayed: bool = False,
    limit: Limit = 100,
) -> list[Json]:
    return await views.dead_letters_view(
        deps,
        flow=flow,
        error_class=error_class,
        key=key,
        include_replayed=include_replayed,
        limit=limit,
    )


@router.get("/dead-letters/{letter_id}", summary="One dead letter")
async def dead_letter(deps: Deps, _: Viewer, letter_id: RowId) -> Json:
    letter = await deps.queue.dead_letter(letter_id)
    if letter is None:
        raise HTTPException(404, f"no dead letter {letter_id}")
    return views.letter_view(letter)


@router.put("/dead-letters/{letter_id}/payload", summary="Replace a dead letter's payload")
async def edit_payload(
    deps: Deps, principal: Operator, letter_id: RowId, body: PayloadEdit
) -> Json:
    try:
        await actions.edit_payload(deps, principal.username, letter_id, body.payload)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    except LookupError as exc:
        raise _lookup_error(exc) from None
    return await dead_letter(deps, principal, letter_id)


@router.post("/dead-letters/{letter_id}/replay", summary="Enqueue a dead letter's job again")
async def replay(deps: Deps, principal: Operator, letter_id: RowId) -> Json:
    try:
        job_id = await actions.replay(deps, principal.username, letter_id)
    except LookupError as exc:
        raise _lookup_error(exc) from None
    return {"letter_id": letter_id, "job_id": job_id}


@router.post("/dead-letters/replay", summary="Replay many dead letters")
async def replay_many(deps: Deps, principal: Operator, body: ReplayMany) -> Json:
    outcome = await actions.replay_many(deps, principal.username, body.ids)
    return {
        "replayed": {str(k): v for k, v in outcome.items() if isinstance(v, int)},
        "refused": {str(k): v for k, v in outcome.items() if isinstance(v, str)},
    }


@router.post("/dead-letters/{letter_id}/discard", summary="Drop a dead letter, with a reason")
async def discard(deps: Deps, principal: Operator, letter_id: RowId, body: Discard) -> Json:
    try:
        await actions.discard(deps, principal.username, letter_id, body.reason)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    except LookupError as exc:
        raise _lookup_error(exc) from None
    return {"letter_id": letter_id, "discarded": True}


@router.get("/connections", summary="Connections and their health (never tokens)")
async def connections(deps: Deps, _: Viewer) -> list[Json]:
    return await views.connections_view(deps)


@router.delete(
    "/connections/{connection_id}",
    summary="Disconnect: forget a connection, its tokens and webhook verifiers",
    description="Connecting takes a browser (the provider's consent page): use the dashboard's "
    "Connections page or `freshforce connect`.",
)
async def disconnect(
    deps: Deps,
    principal: Operator,
    connection_id: Annotated[str, Path(pattern=CONNECTION_NAME)],
) -> Json:
    if not await forget_connection(deps, principal.username, connection_id):
        raise HTTPException(404, f"no connection {connection_id}")
    return {"connection_id": connection_id, "disconnected": True}


@router.get("/alerts", summary="Alerts, newest first")
async def alerts(
    deps: Deps, _: Viewer, state: Literal["open", "resolved", "all"] = "open"
) -> list[Json]:
    return await views.alerts_view(deps, state)


@router.get("/alerts/rules", summary="The alert rules and the channels alerts go to")
async def alert_rules(deps: Deps, _: Viewer) -> Json:
    return views.alert_rules_view(deps)
