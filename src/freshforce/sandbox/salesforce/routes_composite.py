"""REST routes for ``composite`` (up to 25 chained subrequests) and sObject Collections (200).

Both cost one API call and run in one transaction with a savepoint per item. With
``allOrNone`` one failure undoes everything: composite answers PROCESSING_HALTED for the other
subrequests, collections ALL_OR_NONE_OPERATION_ROLLED_BACK for the other records. Without it,
a failed item alone is undone (and composite halts only the subrequests that refer to it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from freshforce.sandbox.salesforce import sobjects
from freshforce.sandbox.salesforce.errors import (
    ErrorItem,
    SalesforceError,
    all_or_none_rolled_back,
    json_parser_error,
    not_found,
    processing_halted,
)
from freshforce.sandbox.salesforce.rest import Caller, caller_dependency, read_json
from freshforce.sandbox.salesforce.routes_query import QueryCursors, run_query
from freshforce.sandbox.salesforce.sessions import Sessions
from freshforce.sandbox.salesforce.sobjects import Reply
from freshforce.sandbox.salesforce.state import SalesforceState, Transaction

__all__ = ["composite_router"]

# Composite and collection bodies are JSON documents of any shape.
JSON = Any
MAX_SUBREQUESTS = 25
MAX_RECORDS = 200
_FIRST_FAILURE = 300
_FIRST_FAILURE = 300
_REFERENCE = re.compile(r"@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}")
_REFERENCE_ID = re.compile(r"[A-Za-z0-9_]+")
_BASE = "/services/data/v{version}/composite"
_PATH = re.compile(r"/services/data/v(?P<version>\d+\.\d)/(?P<rest>.*?)/?$")


class _UnresolvedReferenceError(Exception):
    def __init__(self, expression: str) -> None:
        super().__init__(expression)
        self.expression = expression


def _lookup(value: JSON, path: str) -> JSON:
    for name, index in re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+)\]", path):
        if index:
            value = value[int(index)] if isinstance(value, list) else None
        elif isinstance(value, dict):
            value = value.get(name, value.get(name[:1].lower() + name[1:]))
        else:
            value = None
        if value is None:
            return None
    return value


def _substitute(value: JSON, results: dict[str, JSON]) -> JSON:
    """Replace every ``@{ref.path}`` in strings of ``value`` with the referenced result."""
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            found = _lookup(results.get(match.group(1)), match.group(2))
            if found is None or match.group(1) not in results:
                raise _UnresolvedReferenceError(match.group(0))
            return str(found)

        return _REFERENCE.sub(replace, value)
    if isinstance(value, list):
        return [_substitute(v, results) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, results) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class _Run:
    """What a subrequest runs against: the shared transaction and the caller."""

    tx: Transaction
    state: SalesforceState
    cursors: QueryCursors
    caller: Caller


def _dispatch(run: _Run, method: str, url: str, body: JSON) -> Reply:
    """Run one subrequest as the REST route for ``method url`` would."""
    parts = urlsplit(url)
    matched = _PATH.match(parts.path)
    if matched is None:
        raise not_found()
    segments = [unquote_plus(s) for s in matched.group("rest").split("/")]
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    if segments[0] in {"query", "queryAll"} and len(segments) == 1 and method == "GET":
        everything = segments[0] == "queryAll"
        page = run_query(
            run.state, run.cursors, run.caller, query.get("q", ""), include_deleted=everything
        )
        return Reply(200, page)
    if segments[0] != "sobjects" or len(segments) < 2:  # noqa: PLR2004 - sobjects/{Obj}
        raise not_found()
    return _sobject(run, matched.group("version"), method, segments[1:], query=query, body=body)


def _sobject(  # noqa: PLR0911 - one branch per REST shape a subrequest may take
    run: _Run,
    version: str,
    method: str,
    segments: list[str],
    *,
    query: dict[str, str],
    body: JSON,
) -> Reply:
    name, rest, fields = segments[0], segments[1:], query.get("fields")
    tx, state = run.tx, run.state
    match (method, *rest):
        case ("POST",):
            return sobjects.create(tx, version, name, body)
        case ("GET", record_id):
            return sobjects.read(state, version, name, record_id, fields)
        case ("PATCH", record_id):
            return sobjects.update(tx, name, record_id, body)
        case ("DELETE", record_id):
            return sobjects.delete(tx, name, record_id)
        case ("GET", field, value):
            return sobjects.read_by_external_id(state, version, name, field, value, fields=fields)
        case ("PATCH", field, value):
            return sobjects.upsert(tx, version, name, field, value, body=body)
        case ("DELETE", field, value):
            return sobjects.delete_by_external_id(tx, name, field, value)
    raise not_found()


def _subresult(reply: Reply, reference_id: str) -> JSON:
    return {
        "body": reply.body,
        "httpHeaders": dict(reply.headers),
        "httpStatusCode": reply.status,
        "referenceId": reference_id,
    }


def _halted(reference_id: str, message: str | None = None) -> JSON:
    item = processing_halted()
    body = [{"errorCode": item.error_code, "message": message or item.message}]
    return {"body": body, "httpHeaders": {}, "httpStatusCode": 400, "referenceId": reference_id}


def _check_composite(body: JSON) -> tuple[bool, list[JSON]]:
    if not isinstance(body, dict) or not isinstance(body.get("compositeRequest"), list):
        raise json_parser_error("compositeRequest: a list of subrequests is required")
    requests: list[JSON] = body["compositeRequest"]
    if not 1 <= len(requests) <= MAX_SUBREQUESTS:
        raise SalesforceError(
            400,
            ErrorItem(
                "INVALID_BATCH_REQUEST",
                f"compositeRequest: between 1 and {MAX_SUBREQUESTS} subrequests are allowed",
            ),
        )
    for position, sub in enumerate(requests):
        ref = sub.get("referenceId", "") if isinstance(sub, dict) else ""
        if not _REFERENCE_ID.fullmatch(str(ref)) or not sub.get("url") or not sub.get("method"):
            raise json_parser_error(
                f"compositeRequest[{position}]: method, url and a referenceId of "
                "letters, digits and underscores are required"
            )
    return bool(body.get("allOrNone", False)), requests


def run_composite(
    state: SalesforceState, cursors: QueryCursors, caller: Caller, body: JSON
) -> JSON:
    """Run a composite request; return the ``compositeResponse`` list."""
    all_or_none, requests = _check_composite(body)
    results: dict[str, JSON] = {}
    answers: list[JSON] = []
    failed = False
    with state.transaction(caller.ctx) as tx:
        for sub in requests:
            ref = sub["referenceId"]
            if failed and all_or_none:
                answers.append(_halted(ref))
                continue
            mark = tx.savepoint()
            try:
                url = _substitute(sub["url"], results)
                payload = _substitute(sub.get("body"), results)
                run = _Run(tx, state, cursors, caller)
                reply = _dispatch(run, sub["method"].upper(), url, payload)
            except _UnresolvedReferenceError as exc:
                tx.rollback_to(mark)
                answers.append(
                    _halted(
                        ref, f"Invalid reference specified. No value for {exc.expression} found."
                    )
                )
                failed = True
                continue
            except SalesforceError as exc:
                tx.rollback_to(mark)
                reply = Reply(exc.status, exc.body())
                failed = True
            if reply.status < _FIRST_FAILURE:
                results[ref] = reply.body
            answers.append(_subresult(reply, ref))
        if failed and all_or_none:
            tx.rollback_to(0)
            answers = [
                a if a["httpStatusCode"] >= _FIRST_FAILURE else _halted(a["referenceId"])
                for a in answers
            ]
    return {"compositeResponse": answers}


# ------------------------------------------------------------------ sObject Collections


def _collection_records(body: JSON) -> tuple[bool, list[JSON]]:
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise json_parser_error("records: a list of records is required")
    records: list[JSON] = body["records"]
    if len(records) > MAX_RECORDS:
        raise SalesforceError(
            400,
            ErrorItem(
                "EXCEEDED_ID_LIMIT",
                "record limit reached. cannot submit more than "
                f"{MAX_RECORDS} records into this call",
            ),
        )
    return bool(body.get("allOrNone", False)), records


def _type_of(record: JSON) -> str:
    attributes = record.get("attributes") if isinstance(record, dict) else None
    name = attributes.get("type") if isinstance(attributes, dict) else None
    if not name:
        raise SalesforceError(
            400, ErrorItem("INVALID_TYPE", "Must specify a type in the attributes field")
        )
    return str(name)


def _fields(record: JSON) -> dict[str, JSON]:
    return {k: v for k, v in record.items() if k != "attributes"}


Operation = Callable[[Transaction, JSON], JSON]


def _run_collection(
    state: SalesforceState,
    caller: Caller,
    items: list[JSON],
    *,
    all_or_none: bool,
    operation: Operation,
    id_of: Callable[[JSON], str | None],
) -> list[JSON]:
    """Apply ``operation`` to each item; per-item results in request order."""
    results: list[JSON] = []
    failed = False
    with state.transaction(caller.ctx) as tx:
        for item in items:
            mark = tx.savepoint()
            try:
                results.append({"success": True, "errors": [], **operation(tx, item)})
            except SalesforceError as exc:
                tx.rollback_to(mark)
                failed = True
                errors = [e.as_collection() for e in exc.items]
                results.append({"id": id_of(item), "success": False, "errors": errors})
        if failed and all_or_none:
            tx.rollback_to(0)
            rolled = [all_or_none_rolled_back().as_collection()]
            results = [
                r if not r["success"] else {"id": None, "success": False, "errors": rolled}
                for r in results
            ]
    return [{"id": r.get("id"), **{k: v for k, v in r.items() if k != "id"}} for r in results]


def _record_id(item: JSON) -> str | None:
    if isinstance(item, dict):
        value = item.get("id", item.get("Id"))
        return str(value) if value else None
    return str(item)


def composite_router(
    state: SalesforceState, sessions: Sessions, cursors: QueryCursors
) -> APIRouter:
    router = APIRouter()
    authed = Depends(caller_dependency(sessions, state.allocation))

    @router.post(f"{_BASE}")
    async def composite(request: Request, caller: Caller = authed) -> Response:
        return JSONResponse(run_composite(state, cursors, caller, await read_json(request)))

    _create_and_update_routes(router, state, authed)
    _upsert_route(router, state, authed)
    _delete_and_read_routes(router, state, authed)
    return router


def _create_and_update_routes(router: APIRouter, state: SalesforceState, authed: Any) -> None:  # noqa: ANN401 - FastAPI's Depends marker
    base = _BASE

    @router.post(f"{base}/sobjects")
    async def create_many(request: Request, caller: Caller = authed) -> Response:
        all_or_none, records = _collection_records(await read_json(request))

        def create(tx: Transaction, record: JSON) -> JSON:
            if _record_id(record):
                raise SalesforceError(
                    400, ErrorItem("INVALID_FIELD", "cannot specify Id in an insert call")
                )
            return {"id": tx.create(_type_of(record), _fields(record))}

        return JSONResponse(
            _run_collection(
                state,
                caller,
                records,
                all_or_none=all_or_none,
                operation=create,
                id_of=lambda _r: None,
            )
        )

    @router.patch(f"{base}/sobjects")
    async def update_many(request: Request, caller: Caller = authed) -> Response:
        all_or_none, records = _collection_records(await read_json(request))

        def update(tx: Transaction, record: JSON) -> JSON:
            record_id = _record_id(record)
            if not record_id:
                raise SalesforceError(
                    400, ErrorItem("MISSING_ARGUMENT", "Id not specified in an update call")
                )
            body = {k: v for k, v in _fields(record).items() if k.lower() != "id"}
            spec = state.describe(_type_of(record))
            tx.update(spec.name, record_id, body)
            return {"id": str(state.read(spec.name, record_id)["Id"])}

        return JSONResponse(
            _run_collection(
                state, caller, records, all_or_none=all_or_none, operation=update, id_of=_record_id
            )
        )


def _upsert_route(router: APIRouter, state: SalesforceState, authed: Any) -> None:  # noqa: ANN401 - FastAPI's Depends marker
    base = _BASE

    @router.patch(f"{base}/sobjects/{{name}}/{{field}}")
    async def upsert_many(
        name: str, field: str, request: Request, caller: Caller = authed
    ) -> Response:
        all_or_none, records = _collection_records(await read_json(request))
        spec = state.describe(name)

        def upsert(tx: Transaction, record: JSON) -> JSON:
            if _type_of(record).lower() != spec.name.lower():
                raise SalesforceError(
                    400, ErrorItem("INVALID_TYPE", f"Records must all be of type {spec.name}")
                )
            key = next((v for k, v in record.items() if k.lower() == field.lower()), None)
            if key is None:
                raise SalesforceError(400, ErrorItem("MISSING_ARGUMENT", f"{field} not specified"))
            body = {k: v for k, v in _fields(record).items() if k.lower() != field.lower()}
            result = tx.upsert(spec.name, field, str(key), body)
            return {"id": result.id, "created": result.created}

        return JSONResponse(
            _run_collection(
                state,
                caller,
                records,
                all_or_none=all_or_none,
                operation=upsert,
                id_of=lambda _r: None,
            )
        )


def _delete_and_read_routes(router: APIRouter, state: SalesforceState, authed: Any) -> None:  # noqa: ANN401 - FastAPI's Depends marker
    base = _BASE

    @router.delete(f"{base}/sobjects")
    async def delete_many(
        ids: str = "",
        allOrNone: bool = False,  # noqa: N803 - the wire name
        caller: Caller = authed,
    ) -> Response:
        wanted = [i for i in ids.split(",") if i]
        _collection_records({"records": wanted})

        def delete(tx: Transaction, record_id: JSON) -> JSON:
            found = tx.state.get_record(str(record_id), include_deleted=True)
            spec = state.catalog.by_prefix(str(record_id)[:3])
            if found is None or spec is None:
                raise SalesforceError(
                    400, ErrorItem("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
                )
            if found["IsDeleted"]:
                raise SalesforceError(400, ErrorItem("ENTITY_IS_DELETED", "entity is deleted"))
            tx.delete(spec.name, str(record_id))
            return {"id": found["Id"]}

        return JSONResponse(
            _run_collection(
                state, caller, wanted, all_or_none=allOrNone, operation=delete, id_of=_record_id
            )
        )

    @router.get(f"{base}/sobjects/{{name}}")
    async def read_many(
        name: str, ids: str = "", fields: str = "", caller: Caller = authed
    ) -> Response:
        spec = state.describe(name)
        wanted = [i for i in ids.split(",") if i]
        _collection_records({"records": wanted})
        found: list[JSON] = []
        for record_id in wanted:
            try:
                reply = sobjects.read(state, caller.version, spec.name, record_id, fields or None)
            except SalesforceError:
                found.append(None)
            else:
                found.append(reply.body)
        return JSONResponse(found)
