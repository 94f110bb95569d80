"""The dashboard's HTML pages: overview, dead letters, connections, alerts.

Reads go through ``views.py`` and writes through ``actions.py``, the same functions the JSON API
uses. Every form posts the session's CSRF token; htmx requests send it as a header.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import Field

from freshforce.web import actions, views
from freshforce.web.auth import Principal, check_csrf, page_operator, page_user
from freshforce.web.deps import MAX_ROW_ID, RowId, WebDeps, web_deps

__all__ = ["render", "router"]

router = APIRouter(include_in_schema=False)
Deps = Annotated[WebDeps, Depends(web_deps)]
Viewer = Annotated[Principal, Depends(page_user)]
Operator = Annotated[Principal, Depends(page_operator)]
CsrfField = Annotated[str, Form()]


def render(
    deps: WebDeps,
    request: Request,
    name: str,
    principal: Principal | None,
    *,
    status_code: int = 200,
    **context: Any,  # noqa: ANN401 - template values of any shape
) -> HTMLResponse:
    """Render a page template with the user, their CSRF token and the current path."""
    return deps.templates.TemplateResponse(
        request,
        name,
        {"principal": principal, "path": request.url.path, **context},
        status_code=status_code,
    )


def _see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=status.HTTP_303_SEE_OTHER)


def _http_error(exc: LookupError) -> HTTPException:
    code = 404 if isinstance(exc, actions.NotFoundError) else 409
    return HTTPException(code, str(exc))


@router.get("/")
async def overview_page(request: Request, deps: Deps, principal: Viewer) -> HTMLResponse:
    return render(deps, request, "overview.html", principal, view=await views.overview(deps))


@router.get("/partials/overview")
async def overview_panel(request: Request, deps: Deps, principal: Viewer) -> HTMLResponse:
    return render(deps, request, "_overview_panel.html", principal, view=await views.overview(deps))


@router.get("/dead-letters")
async def dead_letters_page(
    *,
    request: Request,
    deps: Deps,
    principal: Viewer,
    flow: str = "",
    error_class: str = "",
    key: str = "",
    include_replayed: bool = False,
) -> HTMLResponse:
    letters = await views.dead_letters_view(
        deps, flow=flow, error_class=error_class, key=key, include_replayed=include_replayed
    )
    filters = {
        "flow": flow,
        "error_class": error_class,
        "key": key,
        "include_replayed": include_replayed,
    }
    return render(deps, request, "dead_letters.html", principal, letters=letters, filters=filters)


async def _letter_page(
    request: Request,
    deps: WebDeps,
    principal: Principal,
    letter_id: int,
    *,
    error: str | None = None,
    text: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    letter = await deps.queue.dead_letter(letter_id)
    if letter is None:
        raise HTTPException(404, f"no dead letter {letter_id}")
    view = views.letter_view(letter)
    job_attempts = [] if letter.job_id is None else await deps.queue.attempts(letter.job_id)
    return render(
        deps,
        request,
        "dead_letter.html",
        principal,
        status_code=status_code,
        letter=view,
        attempts=[views.plain(asdict(a)) for a in job_attempts],
        error=error,
        text=text if text is not None else views.pretty_json(letter.payload),
    )


@router.get("/dead-letters/{letter_id}")
async def dead_letter_page(
    request: Request, deps: Deps, principal: Viewer, letter_id: RowId
) -> HTMLResponse:
    return await _letter_page(request, deps, principal, letter_id)


@router.post("/dead-letters/replay")
async def replay_many(
    deps: Deps,
    principal: Operator,
    csrf_token: CsrfField = "",
    ids: Annotated[list[Annotated[int, Field(ge=1, le=MAX_ROW_ID)]] | None, Form()] = None,
) -> Response:
    check_csrf(principal, csrf_token)
    if not ids:
        raise HTTPException(422, "ids: tick at least one dead letter to replay")
    await actions.replay_many(deps, principal.username, ids)
    return _see_other("/dead-letters")


@router.post("/dead-letters/{letter_id}/edit")
async def edit_letter(
    *,
    request: Request,
    deps: Deps,
    principal: Operator,
    letter_id: RowId,
    payload: Annotated[str, Form(max_length=1_000_000)],
    csrf_token: CsrfField = "",
) -> Response:
    check_csrf(principal, csrf_token)
    try:
        parsed = actions.parse_payload(payload)
        await actions.edit_payload(deps, principal.username, letter_id, parsed)
    except ValueError as exc:
        return await _letter_page(
            request, deps, principal, letter_id, error=str(exc), text=payload, status_code=422
        )
    except LookupError as exc:
        raise _http_error(exc) from None
    return _see_other(f"/dead-letters/{letter_id}")


@router.post("/dead-letters/{letter_id}/replay")
async def replay_letter(
    deps: Deps, principal: Operator, letter_id: RowId, csrf_token: CsrfField = ""
) -> Response:
    check_csrf(principal, csrf_token)
    try:
        await actions.replay(deps, principal.username, letter_id)
    except LookupError as exc:
        raise _http_error(exc) from None
    return _see_other(f"/dead-letters/{letter_id}")


@router.post("/dead-letters/{letter_id}/discard")
async def discard_letter(
    deps: Deps,
    principal: Operator,
    letter_id: RowId,
    reason: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: CsrfField = "",
) -> Response:
    check_csrf(principal, csrf_token)
    try:
        await actions.discard(deps, principal.username, letter_id, reason)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    except LookupError as exc:
        raise _http_error(exc) from None
    return _see_other("/dead-letters")


@router.get("/connections")
async def connections_page(request: Request, deps: Deps, principal: Viewer) -> HTMLResponse:
    found = await views.connections_view(deps)
    return render(deps, request, "connections.html", principal, connections=found)


@router.get("/alerts")
async def alerts_page(
    request: Request, deps: Deps, principal: Viewer, state: str = "open"
) -> HTMLResponse:
    if state not in {"open", "resolved", "all"}:
        raise HTTPException(422, f"state: {state!r} is not one of open, resolved, all")
    found = await views.alerts_view(deps, state)
    config = views.alert_rules_view(deps)
    return render(deps, request, "alerts.html", principal, alerts=found, state=state, config=config)
