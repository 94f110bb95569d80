"""The audit log page and its JSON API: who did what to which target, when, filtered.

Every operator action writes a row (dead letter edits, replays and discards, conflict and
ambiguous-match resolutions, connects and disconnects); this module only reads them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from freshforce.store.audit import audit_actions, list_audit
from freshforce.web.auth import Principal, api_user, page_user
from freshforce.web.deps import WebDeps, web_deps
from freshforce.web.pages import render
from freshforce.web.views import plain

__all__ = ["AuditFilter", "api_router", "audit_rows", "router", "target_url"]

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api", tags=["api"])
Deps = Annotated[WebDeps, Depends(web_deps)]
Text = Annotated[str | None, Query(max_length=255)]
Limit = Annotated[int, Query(ge=1, le=1000)]
# Any: JSON rows bound for a template or an API answer.
Json = dict[str, Any]
_TARGET_PAGES = {"dead_letter": "/dead-letters/", "conflict": "/conflicts/"}


@dataclass(frozen=True)
class AuditFilter:
    """What to show: exact actor and action, an action's kind, part of a target, a time span."""

    actor: str | None = None
    action: str | None = None
    kind: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def target_url(target: str | None) -> str | None:
    """Return the dashboard page of an audited target (a dead letter, a conflict), if any."""
    kind, _, ident = (target or "").partition(":")
    page = _TARGET_PAGES.get(kind)
    return f"{page}{ident}" if page and ident.isdigit() else None


async def audit_rows(deps: WebDeps, found: AuditFilter, limit: int = 200) -> list[Json]:
    """Return the audit rows the filter keeps, newest first."""
    async with deps.engine.connect() as conn:
        rows = await list_audit(conn, **asdict(found), limit=limit)
    return [
        {**{k: plain(v) for k, v in asdict(r).items()}, "url": target_url(r.target)} for r in rows
    ]


def _utc(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def _moment(name: str, text: str, *, end: bool = False) -> datetime | None:
    """Read a form's date or date-time (UTC unless it says); a bare ``until`` date includes it."""
    text = text.strip()
    if not text:
        return None
    try:
        if len(text) == len("2026-01-31"):
            start = datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
            return start + timedelta(days=1) if end else start
        return _utc(datetime.fromisoformat(text))
    except ValueError:
        msg = f"{name}: {text!r} is not a date (2026-01-31) or a date and time (2026-01-31T08:00)"
        raise HTTPException(422, msg) from None


@router.get("/audit")
async def audit_page(
    *,
    request: Request,
    deps: Deps,
    principal: Annotated[Principal, Depends(page_user)],
    actor: Annotated[str, Query(max_length=128)] = "",
    kind: Annotated[str, Query(max_length=64)] = "",
    target: Annotated[str, Query(max_length=255)] = "",
    since: Annotated[str, Query(max_length=40)] = "",
    until: Annotated[str, Query(max_length=40)] = "",
) -> HTMLResponse:
    found = AuditFilter(
        actor=actor.strip() or None,
        kind=kind.strip() or None,
        target=target.strip() or None,
        since=_moment("since", since),
        until=_moment("until", until, end=True),
    )
    async with deps.engine.connect() as conn:
        actions = await audit_actions(conn)
    kinds = sorted({a.split(".", 1)[0] for a in actions})
    filters = {"actor": actor, "kind": kind, "target": target, "since": since, "until": until}
    rows = await audit_rows(deps, found)
    return render(deps, request, "audit.html", principal, rows=rows, filters=filters, kinds=kinds)


@api_router.get("/audit", summary="The audit log, newest first, filtered")
async def audit(
    *,
    deps: Deps,
    _: Annotated[Principal, Depends(api_user)],
    actor: Text = None,
    action: Text = None,
    kind: Text = None,
    target: Text = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Limit = 200,
) -> list[Json]:
    found = AuditFilter(actor, action, kind, target, _utc(since), _utc(until))
    return await audit_rows(deps, found, limit)


@api_router.get("/audit/actions", summary="Every action the audit log holds")
async def actions(deps: Deps, _: Annotated[Principal, Depends(api_user)]) -> list[str]:
    async with deps.engine.connect() as conn:
        return await audit_actions(conn)
