"""REST routes for versions, resources, describe, sObject CRUD, upsert, replication and limits."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from freshforce.sandbox.salesforce import sobjects
from freshforce.sandbox.salesforce.describe import (
    describe_event,
    describe_global,
    describe_object,
    event_summary,
    object_summary,
)
from freshforce.sandbox.salesforce.errors import SalesforceError, json_parser_error
from freshforce.sandbox.salesforce.rest import (
    MAX_VERSION,
    MIN_VERSION,
    Caller,
    caller_dependency,
    read_json,
    respond,
)
from freshforce.sandbox.salesforce.sessions import Sessions
from freshforce.sandbox.salesforce.state import SalesforceState
from freshforce.sandbox.salesforce.wire import format_datetime, parse_datetime

__all__ = ["sobject_router"]

_SEASONS = ("Winter", "Spring", "Summer")
_BASE_VERSION = 59  # Winter '24


def _label(version: int) -> str:
    step = version - _BASE_VERSION
    return f"{_SEASONS[step % 3]} '{24 + step // 3}"


def versions() -> list[dict[str, str]]:
    """Return the body of ``GET /services/data``: every version this sandbox serves."""
    return [
        {"label": _label(v), "url": f"/services/data/v{v}.0", "version": f"{v}.0"}
        for v in range(MIN_VERSION, MAX_VERSION + 1)
    ]


def _raw_segment(request: Request, index: int) -> str:
    """Return a path segment decoded as ``quote_plus`` encodes it (external id values)."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    return unquote_plus(raw.decode("latin-1").split("/")[index])


def _moment(name: str, value: str | None) -> datetime:
    if not value:
        raise json_parser_error(f"Missing required query parameter: {name}")
    try:
        return parse_datetime(value)
    except ValueError:
        raise SalesforceError(
            400, *json_parser_error(f"{name}: not a valid dateTime: {value}").items
        ) from None


def sobject_router(state: SalesforceState, sessions: Sessions) -> APIRouter:
    """Build the routes; every one under ``/services/data/vXX.X`` is authenticated and counted."""
    router = APIRouter()
    authed = Depends(caller_dependency(sessions, state.allocation))
    _meta_routes(router, state, authed)
    _replication_routes(router, state, authed)
    _record_routes(router, state, authed)
    _external_id_routes(router, state, authed)
    return router


def _meta_routes(router: APIRouter, state: SalesforceState, authed: Any) -> None:  # noqa: ANN401 - FastAPI's Depends marker
    base = "/services/data/v{version}"

    @router.get("/services/data")
    async def list_versions() -> Response:
        return JSONResponse(versions())

    @router.get(base)
    async def resources(caller: Caller = authed) -> Response:
        prefix = f"/services/data/v{caller.version}"
        names = ("sobjects", "query", "queryAll", "composite", "limits", "jobs")
        return JSONResponse({name: f"{prefix}/{name}" for name in names})

    @router.get(f"{base}/limits", dependencies=[authed])
    async def limits() -> Response:
        daily = {"Max": state.allocation.max_calls, "Remaining": state.allocation.remaining()}
        return JSONResponse(
            {
                "DailyApiRequests": daily,
                "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
                "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
                "DailyBulkV2QueryFileStorageMB": {"Max": 1024000, "Remaining": 1024000},
                "DataStorageMB": {"Max": 5, "Remaining": 5},
            }
        )

    @router.get(f"{base}/sobjects")
    async def global_describe(caller: Caller = authed) -> Response:
        events = state.platform_events.definitions()
        return JSONResponse(describe_global(caller.version, state.catalog, events))

    @router.get(f"{base}/sobjects/{{name}}")
    async def basic_info(name: str, caller: Caller = authed) -> Response:
        event = state.platform_events.get(name)
        if event is not None:
            summary = event_summary(caller.version, event)
            return JSONResponse({"objectDescribe": summary, "recentItems": []})
        spec = state.describe(name)
        return JSONResponse(
            {"objectDescribe": object_summary(caller.version, spec), "recentItems": []}
        )

    @router.get(f"{base}/sobjects/{{name}}/describe")
    async def describe(name: str, caller: Caller = authed) -> Response:
        event = state.platform_events.get(name)
        if event is not None:
            return JSONResponse(describe_event(caller.version, event))
        spec = state.describe(name)
        return JSONResponse(describe_object(caller.version, state.catalog, spec))


def _replication_routes(router: APIRouter, state: SalesforceState, authed: Any) -> None:  # noqa: ANN401 - FastAPI's Depends marker
    base = "/services/data/v{version}"

    @router.get(f"{base}/sobjects/{{name}}/updated", dependencies=[authed])
    async def updated(name: str, start: str | None = None, end: str | None = None) -> Response:
        high = _moment("end", end)
        ids = state.updated_ids(name, _moment("start", start), high)
        return JSONResponse({"ids": ids, "latestDateCovered": format_datetime(high)})

    @router.get(f"{base}/sobjects/{{name}}/deleted", dependencies=[authed])
    async def deleted(name: str, start: str | None = None, end: str | None = None) -> Response:
        low, high = _moment("start", start), _moment("end", end)
        found = state.deleted_records(name, low, high)
        return JSONResponse(
            {
                "deletedRecords": [{"id": i, "deletedDate": d} for i, d in found],
                "earliestDateAvailable": format_datetime(low),
                "latestDateCovered": format_datetime(high),
            }
        )


def _record_routes(router: APIRouter, state: SalesforceState, authed: Any) -> None:  # noqa: ANN401 - FastAPI's Depends marker
    base = "/services/data/v{version}"

    @router.post(f"{base}/sobjects/{{name}}")
    async def create(name: str, request: Request, caller: Caller = authed) -> Response:
        body = await read_json(request)
        with state.transaction(caller.ctx) as tx:
            return respond(sobjects.create(tx, caller.version, name, body))

    @router.get(f"{base}/sobjects/{{name}}/{{record_id}}")
    async def read(
        name: str, record_id: str, fields: str | None = None, caller: Caller = authed
    ) -> Response:
        return respond(sobjects.read(state, caller.version, name, record_id, fields))

    @router.patch(f"{base}/sobjects/{{name}}/{{record_id}}")
    async def update(
        name: str, record_id: str, request: Request, caller: Caller = authed
    ) -> Response:
        body = await read_json(request)
        with state.transaction(caller.ctx) as tx:
            return respond(sobjects.update(tx, name, record_id, body))

    @router.delete(f"{base}/sobjects/{{name}}/{{record_id}}")
    async def delete(name: str, record_id: str, caller: Caller = authed) -> Response:
        with state.transaction(caller.ctx) as tx:
            return respond(sobjects.delete(tx, name, record_id))


def _external_id_routes(router: APIRouter, state: SalesforceState, authed: Any) -> None:  # noqa: ANN401 - FastAPI's Depends marker
    base = "/services/data/v{version}"

    @router.get(f"{base}/sobjects/{{name}}/{{field}}/{{value}}")
    async def read_external(
        name: str, field: str, request: Request, fields: str | None = None, caller: Caller = authed
    ) -> Response:
        value = _raw_segment(request, -1)
        return respond(
            sobjects.read_by_external_id(state, caller.version, name, field, value, fields=fields)
        )

    @router.patch(f"{base}/sobjects/{{name}}/{{field}}/{{value}}")
    async def upsert(
        name: str,
        field: str,
        request: Request,
        updateOnly: bool = False,  # noqa: N803 - the wire name
        caller: Caller = authed,
    ) -> Response:
        value = _raw_segment(request, -1)
        body = await read_json(request)
        with state.transaction(caller.ctx) as tx:
            reply = sobjects.upsert(
                tx, caller.version, name, field, value, body=body, update_only=updateOnly
            )
            return respond(reply)

    @router.delete(f"{base}/sobjects/{{name}}/{{field}}/{{value}}")
    async def delete_external(
        name: str, field: str, request: Request, caller: Caller = authed
    ) -> Response:
        value = _raw_segment(request, -1)
        with state.transaction(caller.ctx) as tx:
            return respond(sobjects.delete_by_external_id(tx, name, field, value))
