"""REST routes for SOQL: ``query``, ``queryAll`` and ``query/<locator>-<offset>`` paging.

A query runs once; its rows wait behind a query locator that belongs to the session that ran it
(another session, or a refreshed one, gets INVALID_QUERY_LOCATOR). Pages hold ``batchSize`` rows
from ``Sforce-Query-Options`` (clamped to 200..2000, default 2000); child-subquery rows count
toward the batch. A user keeps at most ``MAX_OPEN_PER_USER`` open locators; the oldest goes first.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from freshforce.sandbox.salesforce.errors import (
    ErrorItem,
    SalesforceError,
    invalid_query_locator,
)
from freshforce.sandbox.salesforce.ids import IdMinter
from freshforce.sandbox.salesforce.rest import Caller, caller_dependency
from freshforce.sandbox.salesforce.sessions import Sessions
from freshforce.sandbox.salesforce.soql import SoqlError, StateRecordSource, run_soql
from freshforce.sandbox.salesforce.state import SalesforceState

__all__ = ["QueryCursors", "query_router", "run_query"]

# Query rows are JSON bound for the wire (nested parents and child subquery results).
Row = dict[str, Any]
Clock = Callable[[], datetime]
MIN_BATCH, MAX_BATCH = 200, 2000
MAX_OPEN_PER_USER = 10
LOCATOR_LIFETIME = timedelta(minutes=15)
_BATCH = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)


@dataclass
class _Cursor:
    session_token: str
    user_id: str
    rows: list[Row]
    batch: int
    total: int
    touched: datetime


@dataclass
class QueryCursors:
    """Open query locators, per session, expiring after inactivity."""

    clock: Clock
    _cursors: OrderedDict[str, _Cursor] = field(default_factory=OrderedDict)
    _minter: IdMinter = field(default_factory=lambda: IdMinter(pod="0q"))

    def open(self, caller: Caller, rows: list[Row], batch: int, total: int) -> str:
        mine = [k for k, c in self._cursors.items() if c.user_id == caller.session.user_id]
        for stale in mine[: max(len(mine) - MAX_OPEN_PER_USER + 1, 0)]:
            del self._cursors[stale]
        locator = self._minter.mint("01g")
        token = caller.session.access_token
        self._cursors[locator] = _Cursor(
            token, caller.session.user_id, rows, batch, total, self.clock()
        )
        return locator

    def rows(self, caller: Caller, locator: str) -> _Cursor:
        cursor = self._cursors.get(locator)
        expired = cursor is not None and self.clock() - cursor.touched > LOCATOR_LIFETIME
        if cursor is None or expired or cursor.session_token != caller.session.access_token:
            raise invalid_query_locator()
        cursor.touched = self.clock()
        return cursor

    def close(self, locator: str) -> None:
        self._cursors.pop(locator, None)

    def clear(self) -> None:
        self._cursors.clear()


def _batch_size(request: Request) -> int:
    found = _BATCH.search(request.headers.get("sforce-query-options", ""))
    wanted = int(found.group(1)) if found else MAX_BATCH
    return min(max(wanted, MIN_BATCH), MAX_BATCH)


def _weight(row: Row) -> int:
    """One for the row plus the rows of its child subqueries."""
    nested = (v for v in row.values() if isinstance(v, dict) and "records" in v)
    return 1 + sum(len(v["records"]) for v in nested)


def _page(
    cursors: QueryCursors, caller: Caller, locator: str, *, start: int, total: int
) -> dict[str, Any]:
    cursor = cursors.rows(caller, locator)
    rows = cursor.rows
    end, weight = start, 0
    while end < len(rows) and (end == start or weight + _weight(rows[end]) <= cursor.batch):
        weight += _weight(rows[end])
        end += 1
    body: dict[str, Any] = {
        "totalSize": total,
        "done": end >= len(rows),
        "records": rows[start:end],
    }
    if end < len(rows):
        body["nextRecordsUrl"] = f"/services/data/v{caller.version}/query/{locator}-{end}"
    else:
        cursors.close(locator)
    return body


def run_query(
    state: SalesforceState,
    cursors: QueryCursors,
    caller: Caller,
    text: str,
    *,
    include_deleted: bool,
    batch: int = MAX_BATCH,
) -> dict[str, Any]:
    """Run ``text`` and return its first page (composite subrequests use this too)."""
    try:
        result = run_soql(
            text,
            StateRecordSource(state),
            now=state.clock(),
            include_deleted=include_deleted,
            api_version=caller.version,
        )
    except SoqlError as exc:
        raise SalesforceError(exc.http_status, ErrorItem(exc.error_code, exc.message)) from None
    locator = cursors.open(caller, result.records, batch, result.total_size)
    return _page(cursors, caller, locator, start=0, total=result.total_size)


def query_router(state: SalesforceState, sessions: Sessions, cursors: QueryCursors) -> APIRouter:
    router = APIRouter()
    authed = Depends(caller_dependency(sessions, state.allocation))
    base = "/services/data/v{version}"

    def _missing_q() -> SalesforceError:
        return SalesforceError(
            400, ErrorItem("MALFORMED_QUERY", "A query string has to be specified")
        )

    @router.get(f"{base}/query")
    async def query(request: Request, q: str | None = None, caller: Caller = authed) -> Response:
        if not q:
            raise _missing_q()
        body = run_query(
            state, cursors, caller, q, include_deleted=False, batch=_batch_size(request)
        )
        return JSONResponse(body)

    @router.get(f"{base}/queryAll")
    async def query_all(
        request: Request, q: str | None = None, caller: Caller = authed
    ) -> Response:
        if not q:
            raise _missing_q()
        body = run_query(
            state, cursors, caller, q, include_deleted=True, batch=_batch_size(request)
        )
        return JSONResponse(body)

    @router.get(f"{base}/query/{{locator}}")
    @router.get(f"{base}/queryAll/{{locator}}")
    async def query_more(locator: str, caller: Caller = authed) -> Response:
        name, _, offset = locator.partition("-")
        if not offset.isdigit():
            raise invalid_query_locator()
        cursor = cursors.rows(caller, name)
        start = int(offset)
        if start > len(cursor.rows):
            raise invalid_query_locator()
        return JSONResponse(_page(cursors, caller, name, start=start, total=cursor.total))

    return router
