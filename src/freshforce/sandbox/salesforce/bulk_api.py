"""Bulk API 2.0 routes: ``jobs/ingest`` and ``jobs/query`` under ``/services/data/vXX.X``.

The wire side only: bodies are checked with pydantic, the work is ``bulk.BulkJobs``'s. Closing an
ingest job or creating a query job schedules its processing as a background task, so the job is
done moments after the response, and clients poll ``GET …/<id>`` as they would against Salesforce.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from freshforce.sandbox.salesforce.bulk import (
    BulkJobs,
    IngestJobs,
    JobFormat,
    QueryJobs,
    ResultKind,
    bulk_error,
)
from freshforce.sandbox.salesforce.bulk_csv import DELIMITERS, LINE_ENDINGS
from freshforce.sandbox.salesforce.rest import Caller, caller_dependency, read_json
from freshforce.sandbox.salesforce.sessions import Sessions
from freshforce.sandbox.salesforce.state import SalesforceState

__all__ = ["BulkJobs", "bulk_router"]

_Model = TypeVar("_Model", bound=BaseModel)

_BASE = "/services/data/v{version}/jobs"
_CSV = "text/csv; charset=UTF-8"
_RESULT_KINDS: dict[str, ResultKind] = {
    "successfulresults": "successfulResults",
    "failedresults": "failedResults",
    "unprocessedrecords": "unprocessedrecords",
}


class _JobBody(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    content_type: str = Field("CSV", alias="contentType")
    column_delimiter: str = Field("COMMA", alias="columnDelimiter")
    line_ending: str = Field("LF", alias="lineEnding")

    @field_validator("content_type")
    @classmethod
    def _csv_only(cls, value: str) -> str:
        if value != "CSV":
            raise ValueError("contentType must be CSV")
        return value

    @field_validator("column_delimiter")
    @classmethod
    def _known_delimiter(cls, value: str) -> str:
        if value not in DELIMITERS:
            raise ValueError(f"columnDelimiter must be one of {', '.join(DELIMITERS)}")
        return value

    @field_validator("line_ending")
    @classmethod
    def _known_line_ending(cls, value: str) -> str:
        if value not in LINE_ENDINGS:
            raise ValueError(f"lineEnding must be one of {', '.join(LINE_ENDINGS)}")
        return value

    def layout(self) -> JobFormat:
        return JobFormat(self.column_delimiter, self.line_ending)


class IngestJobBody(_JobBody):
    """``POST jobs/ingest``."""

    object: str
    operation: str
    external_id_field_name: str | None = Field(None, alias="externalIdFieldName")


class QueryJobBody(_JobBody):
    """``POST jobs/query``."""

    operation: str = "query"
    query: str


class StateBody(BaseModel):
    """``PATCH jobs/…/<id>``."""

    state: str


async def _body(request: Request, model: type[_Model]) -> _Model:
    raw = await read_json(request)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        where = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        raise bulk_error(400, "INVALIDJOB", f"InvalidJob : {where}") from None


def _job_list(infos: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse({"done": True, "records": infos, "nextRecordsUrl": None})


def bulk_router(jobs: BulkJobs, state: SalesforceState, sessions: Sessions) -> APIRouter:
    """Build the Bulk API 2.0 routes; each call is authenticated and counted like REST."""
    router = APIRouter()
    authed = Depends(caller_dependency(sessions, state.allocation))
    _ingest_routes(router, jobs.ingest, authed)
    _query_routes(router, jobs.query, authed)
    return router


def _ingest_routes(router: APIRouter, jobs: IngestJobs, authed: Any) -> None:  # noqa: ANN401 - FastAPI's Depends marker
    @router.post(f"{_BASE}/ingest")
    async def create(request: Request, caller: Caller = authed) -> Response:
        body = await _body(request, IngestJobBody)
        job = jobs.create(
            body.object,
            body.operation,
            caller.ctx,
            external_id_field=body.external_id_field_name,
            layout=body.layout(),
        )
        return JSONResponse(job.created_info())

    @router.get(f"{_BASE}/ingest", dependencies=[authed])
    async def list_jobs() -> Response:
        return _job_list([job.info() for job in jobs.all()])

    @router.get(f"{_BASE}/ingest/{{job_id}}", dependencies=[authed])
    async def info(job_id: str) -> Response:
        return JSONResponse(jobs.get(job_id).info())

    @router.put(f"{_BASE}/ingest/{{job_id}}/batches", dependencies=[authed])
    async def upload(job_id: str, request: Request) -> Response:
        raw = await request.body()
        jobs.upload(job_id, raw.decode("utf-8-sig", errors="replace"))
        return Response(status_code=201)

    @router.patch(f"{_BASE}/ingest/{{job_id}}", dependencies=[authed])
    async def change(job_id: str, request: Request, tasks: BackgroundTasks) -> Response:
        body = await _body(request, StateBody)
        job = jobs.change_state(job_id, body.state)
        if job.state == "UploadComplete":
            tasks.add_task(jobs.process, job_id)
        return JSONResponse(job.created_info())

    @router.delete(f"{_BASE}/ingest/{{job_id}}", dependencies=[authed])
    async def delete(job_id: str) -> Response:
        jobs.delete(job_id)
        return Response(status_code=204)

    @router.get(f"{_BASE}/ingest/{{job_id}}/{{kind}}", dependencies=[authed])
    async def results(job_id: str, kind: str) -> Response:
        found = _RESULT_KINDS.get(kind.lower())
        if found is None:
            raise bulk_error(404, "NOT_FOUND", "The requested resource does not exist")
        return Response(jobs.results(job_id, found), media_type=_CSV)


def _query_routes(router: APIRouter, jobs: QueryJobs, authed: Any) -> None:  # noqa: ANN401 - FastAPI's Depends marker
    @router.post(f"{_BASE}/query")
    async def create(request: Request, tasks: BackgroundTasks, caller: Caller = authed) -> Response:
        body = await _body(request, QueryJobBody)
        job = jobs.create(body.operation, body.query, caller.ctx, body.layout())
        tasks.add_task(jobs.process, job.id)
        return JSONResponse(job.info())

    @router.get(f"{_BASE}/query", dependencies=[authed])
    async def list_jobs() -> Response:
        return _job_list([job.info() for job in jobs.all()])

    @router.get(f"{_BASE}/query/{{job_id}}", dependencies=[authed])
    async def info(job_id: str) -> Response:
        return JSONResponse(jobs.get(job_id).info())

    @router.patch(f"{_BASE}/query/{{job_id}}", dependencies=[authed])
    async def abort(job_id: str, request: Request) -> Response:
        body = await _body(request, StateBody)
        return JSONResponse(jobs.change_state(job_id, body.state).info())

    @router.delete(f"{_BASE}/query/{{job_id}}", dependencies=[authed])
    async def delete(job_id: str) -> Response:
        jobs.delete(job_id)
        return Response(status_code=204)

    @router.get(f"{_BASE}/query/{{job_id}}/results")
    async def results(
        job_id: str,
        caller: Caller = authed,
        locator: str | None = None,
        max_records: Annotated[int | None, Query(alias="maxRecords", ge=1)] = None,
    ) -> Response:
        text, next_locator, count = jobs.results(job_id, caller.version, locator, max_records)
        headers = {"Sforce-Locator": next_locator, "Sforce-NumberOfRecords": str(count)}
        return Response(text, media_type=_CSV, headers=headers)
