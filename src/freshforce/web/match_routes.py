"""The ambiguous-match pages and their JSON API: list, inspect, pick a candidate or create new.

Reads and the settling go through ``matches.py``; settling needs an operator and the session's
CSRF token (the form field on a page, the ``X-CSRF-Token`` header on the API).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from freshforce.web import matches
from freshforce.web.actions import NotFoundError
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

__all__ = ["api_router", "router"]

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api", tags=["api"])
Deps = Annotated[WebDeps, Depends(web_deps)]
LetterId = Annotated[int, Path(ge=1, le=2**63 - 1)]  # a BIGINT id
# Any: JSON answers of the shapes ``matches.py`` documents.
Json = dict[str, Any]


class Choice(BaseModel):
    """The candidate to link (one of the listed ids), or ``new`` to create the record."""

    choice: str = Field(min_length=1, max_length=64)


def _http(exc: LookupError) -> HTTPException:
    return HTTPException(404 if isinstance(exc, NotFoundError) else 409, str(exc))


@router.get("/matches")
async def matches_page(
    request: Request, deps: Deps, principal: Annotated[Principal, Depends(page_user)]
) -> HTMLResponse:
    found = await matches.matches_view(deps)
    return render(deps, request, "matches.html", principal, matches=found)


async def _match_page(
    request: Request,
    deps: WebDeps,
    principal: Principal,
    letter_id: int,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    try:
        found = await matches.match_view(deps, letter_id)
    except LookupError as exc:
        raise _http(exc) from None
    return render(
        deps, request, "match.html", principal, status_code=status_code, match=found, error=error
    )


@router.get("/matches/{letter_id}")
async def match_page(
    request: Request,
    deps: Deps,
    principal: Annotated[Principal, Depends(page_user)],
    letter_id: LetterId,
) -> HTMLResponse:
    return await _match_page(request, deps, principal, letter_id)


@router.post("/matches/{letter_id}/resolve")
async def resolve_match_form(
    *,
    request: Request,
    deps: Deps,
    principal: Annotated[Principal, Depends(page_operator)],
    letter_id: LetterId,
    choice: Annotated[str, Form(max_length=64)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(principal, csrf_token)
    try:
        await matches.settle_match(deps, principal.username, letter_id, choice)
    except ValueError as exc:
        return await _match_page(
            request, deps, principal, letter_id, error=str(exc), status_code=422
        )
    except LookupError as exc:
        raise _http(exc) from None
    return RedirectResponse("/matches", status_code=status.HTTP_303_SEE_OTHER)


@api_router.get("/matches", summary="Ambiguous matches waiting for a person, newest first")
async def list_matches(
    deps: Deps, _: Annotated[Principal, Depends(api_user)], flow: str | None = None
) -> list[Json]:
    return await matches.matches_view(deps, flow=flow)


@api_router.get("/matches/{letter_id}", summary="One ambiguous match and its candidates")
async def get_match(
    deps: Deps, _: Annotated[Principal, Depends(api_user)], letter_id: LetterId
) -> Json:
    try:
        return await matches.match_view(deps, letter_id)
    except LookupError as exc:
        raise _http(exc) from None


@api_router.post(
    "/matches/{letter_id}/resolve", summary="Link a candidate (or create new) and sync again"
)
async def resolve_match(
    deps: Deps,
    principal: Annotated[Principal, Depends(api_operator)],
    letter_id: LetterId,
    body: Choice,
) -> Json:
    try:
        return await matches.settle_match(deps, principal.username, letter_id, body.choice)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    except LookupError as exc:
        raise _http(exc) from None
