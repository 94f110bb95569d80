"""Bulk API 2.0 jobs without HTTP: ingest jobs that write CSV rows, query jobs that read SOQL.

An ingest job is ``Open`` while CSV batches arrive, ``UploadComplete`` once closed, then
``InProgress`` and ``JobComplete`` (or ``Failed``/``Aborted``). Each row is its own write through
``SalesforceState`` with ``api="bulkapi"``, so CDC's changeOrigin says ``bulkapi``. A query job
runs its SOQL through the same engine as REST and keeps the rows for paged CSV results.
``bulk_api.py`` speaks the wire and runs ``process_ingest``/``process_query`` in the background.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeVar

from freshforce.sandbox.salesforce.bulk_csv import (
    DELIMITERS,
    LINE_ENDINGS,
    NULL_MARKER,
    flatten_row,
    read_batch,
    write_csv,
)
from freshforce.sandbox.salesforce.errors import ErrorItem, SalesforceError, not_found
from freshforce.sandbox.salesforce.ids import IdMinter, is_valid_id, normalise_id
from freshforce.sandbox.salesforce.soql import StateRecordSource, check_soql, run_soql
from freshforce.sandbox.salesforce.soql_ast import FieldPath, Query
from freshforce.sandbox.salesforce.state import (
    MultipleMatchesError,
    SalesforceState,
    WriteContext,
)
from freshforce.sandbox.salesforce.wire import format_datetime

__all__ = ["BulkJobs", "IngestJob", "JobState", "QueryJob", "ResultKind", "bulk_error"]

JobState = Literal["Open", "UploadComplete", "InProgress", "JobComplete", "Failed", "Aborted"]
ResultKind = Literal["successfulResults", "failedResults", "unprocessedrecords"]
INGEST_OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
QUERY_OPERATIONS = ("query", "queryAll")
_FINISHED: tuple[JobState, ...] = ("JobComplete", "Failed", "Aborted")
# Job info is JSON bound for the wire.
Info = dict[str, Any]
_Job = TypeVar("_Job", "IngestJob", "QueryJob")


def bulk_error(status: int, code: str, message: str) -> SalesforceError:
    """Build a Bulk API error: the same ``[{"errorCode","message"}]`` array REST uses."""
    return SalesforceError(status, ErrorItem(code, message))


@dataclass(frozen=True)
class JobFormat:
    """How a job's CSV is laid out."""

    column_delimiter: str = "COMMA"
    line_ending: str = "LF"

    @property
    def delimiter(self) -> str:
        return DELIMITERS[self.column_delimiter]

    @property
    def newline(self) -> str:
        return LINE_ENDINGS[self.line_ending]


@dataclass
class _Common:
    id: str
    object: str
    operation: str
    ctx: WriteContext
    created: datetime
    layout: JobFormat
    state: JobState
    modstamp: datetime
    error_message: str | None = None

    def base_info(self, job_type: str) -> Info:
        info: Info = {
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "createdById": self.ctx.user_id,
            "createdDate": format_datetime(self.created),
            "systemModstamp": format_datetime(self.modstamp),
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.ctx.api_version),
            "jobType": job_type,
            "lineEnding": self.layout.line_ending,
            "columnDelimiter": self.layout.column_delimiter,
        }
        if self.error_message:
            info["errorMessage"] = self.error_message
        return info


@dataclass
class IngestJob(_Common):
    """An ingest job: its uploads and, once processed, each row's outcome."""

    external_id_field: str | None = None
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    successes: list[tuple[str, bool, list[str]]] = field(default_factory=list)
    failures: list[tuple[str, str, list[str]]] = field(default_factory=list)

    def info(self) -> Info:
        info = self.base_info("V2Ingest")
        if self.external_id_field:
            info["externalIdFieldName"] = self.external_id_field
        info.update(
            numberRecordsProcessed=len(self.successes) + len(self.failures),
            numberRecordsFailed=len(self.failures),
            retries=0,
            totalProcessingTime=0,
            apiActiveProcessingTime=0,
            apexProcessingTime=0,
        )
        return info

    def created_info(self) -> Info:
        info = {k: v for k, v in self.info().items() if not k.startswith(("number", "retries"))}
        info = {k: v for k, v in info.items() if not k.endswith("ProcessingTime")}
        info["contentUrl"] = f"services/data/v{self.ctx.api_version}/jobs/ingest/{self.id}/batches"
        return info


@dataclass
class QueryJob(_Common):
    """A query job: its SOQL and, once run, the flattened rows."""

    query: str = ""
    columns: list[str] = field(default_factory=list)
    rows: list[list[object]] = field(default_factory=list)

    def info(self) -> Info:
        info = self.base_info("V2Query")
        info.update(numberRecordsProcessed=len(self.rows), retries=0, totalProcessingTime=0)
        return info


class BulkJobs:
    """Every Bulk API 2.0 job of one org."""

    def __init__(self, state: SalesforceState) -> None:
        self._state = state
        self._minter = IdMinter(pod="0b")
        self._ingest: dict[str, IngestJob] = {}
        self._query: dict[str, QueryJob] = {}

    def reset(self) -> None:
        """Forget every job (sandbox reset)."""
        self._ingest.clear()
        self._query.clear()

    # ------------------------------------------------------------ ingest

    def create_ingest(
        self,
        object_name: str,
        operation: str,
        ctx: WriteContext,
        *,
        external_id_field: str | None = None,
        layout: JobFormat | None = None,
    ) -> IngestJob:
        """Open an ingest job, checking the object, operation and external id field."""
        spec = self._state.catalog.get(object_name)
        if spec is None:
            raise bulk_error(400, "INVALIDJOB", f"InvalidJob : Invalid object: {object_name}")
        if operation not in INGEST_OPERATIONS:
            raise bulk_error(400, "INVALIDJOB", f"InvalidJob : Invalid operation: {operation}")
        if operation == "upsert":
            key = spec.field(external_id_field or "")
            if key is None or not (key.external_id or key.name == "Id"):
                message = f"InvalidJob : External ID was blank or invalid for {spec.name}"
                raise bulk_error(400, "INVALIDJOB", message)
            external_id_field = key.name
        now = self._state.clock()
        job = IngestJob(
            id=self._minter.mint("750"),
            object=spec.name,
            operation=operation,
            ctx=WriteContext(ctx.user_id, ctx.api_version, ctx.client, api="bulkapi"),
            created=now,
            layout=layout or JobFormat(),
            state="Open",
            modstamp=now,
            external_id_field=external_id_field if operation == "upsert" else None,
        )
        self._ingest[job.id] = job
        return job

    def ingest(self, job_id: str) -> IngestJob:
        """Return the ingest job, or raise NOT_FOUND."""
        job = self._ingest.get(job_id)
        if job is None:
            raise not_found()
        return job

    def upload(self, job_id: str, text: str) -> None:
        """Add one CSV batch (with its header row) to an open job."""
        job = self.ingest(job_id)
        if job.state != "Open":
            raise bulk_error(409, "INVALIDJOBSTATE", f"Job {job_id} is not Open: {job.state}")
        header, rows = read_batch(text, job.layout.delimiter)
        if not header:
            raise bulk_error(400, "INVALIDBATCH", "InvalidBatch : The uploaded CSV is empty")
        if job.header and [h.lower() for h in header] != [h.lower() for h in job.header]:
            message = "InvalidBatch : Every batch of a job must have the same header row"
            raise bulk_error(400, "INVALIDBATCH", message)
        job.header = header
        job.rows.extend(rows)

    def change_state(self, job_id: str, wanted: str) -> IngestJob:
        """Close (``UploadComplete``) or abort (``Aborted``) an ingest job."""
        job = self.ingest(job_id)
        return self._change(job, wanted)

    def _change(self, job: _Job, wanted: str) -> _Job:
        allowed = {"UploadComplete": ("Open",), "Aborted": ("Open", "UploadComplete", "InProgress")}
        if wanted not in allowed or (isinstance(job, QueryJob) and wanted != "Aborted"):
            raise bulk_error(400, "INVALIDJOBSTATE", f"Invalid state requested: {wanted}")
        if job.state not in allowed[wanted]:
            message = f"Job {job.id} is {job.state} and cannot change to {wanted}"
            raise bulk_error(409, "INVALIDJOBSTATE", message)
        job.state = wanted  # type: ignore[assignment]  # checked against `allowed` above
        job.modstamp = self._state.clock()
        return job

    def process_ingest(self, job_id: str) -> None:
        """Write every uploaded row of a closed job and record each outcome."""
        job = self.ingest(job_id)
        if job.state != "UploadComplete":
            return
        job.state = "InProgress"
        spec = self._state.describe(job.object)
        unknown = next((h for h in job.header if spec.field(h) is None), None)
        if unknown is not None:
            self._finish(job, "Failed", f"InvalidBatch : Field name not found : {unknown}")
            return
        for row in job.rows:
            self._ingest_row(job, row)
        self._finish(job, "JobComplete")

    def _ingest_row(self, job: IngestJob, row: list[str]) -> None:
        values = dict(zip(job.header, row, strict=False))
        fields: dict[str, object] = {
            k: (None if v == NULL_MARKER else v) for k, v in values.items() if v != ""
        }
        try:
            record_id, created = self._write(job, fields)
        except MultipleMatchesError as exc:
            message = f"DUPLICATE_EXTERNAL_ID:{exc.object_name}: more than one record found:--"
            job.failures.append(("", message, row))
        except SalesforceError as exc:
            item = exc.items[0] if exc.items else ErrorItem("UNKNOWN_EXCEPTION", str(exc))
            message = f"{item.error_code}:{item.message}:{','.join(item.fields)} --"
            job.failures.append((str(fields.get("Id") or ""), message, row))
        else:
            job.successes.append((record_id, created, row))

    def _write(self, job: IngestJob, fields: dict[str, object]) -> tuple[str, bool]:
        state, ctx, name = self._state, job.ctx, job.object
        if job.operation == "insert":
            return state.create(name, fields, ctx), True
        if job.operation == "upsert":
            key = job.external_id_field or "Id"
            value = next((v for k, v in fields.items() if k.lower() == key.lower()), None)
            if value is None and key == "Id":
                return state.create(name, fields, ctx), True
            if value is None:
                raise bulk_error(400, "MISSING_ARGUMENT", f"{key} not specified")
            result = state.upsert(name, key, str(value), fields, ctx)
            return result.id, result.created
        record_id = _record_id(fields)
        if job.operation == "update":
            body = {k: v for k, v in fields.items() if k.lower() != "id"}
            state.update(name, record_id, body, ctx)
        else:
            state.delete(name, record_id, ctx)
        return record_id, False

    def _finish(self, job: IngestJob | QueryJob, final: JobState, error: str | None = None) -> None:
        job.state = final
        job.error_message = error
        job.modstamp = self._state.clock()

    def results(self, job_id: str, kind: ResultKind) -> str:
        """Return one of the three result files of a finished ingest job."""
        job = self.ingest(job_id)
        if job.state not in _FINISHED:
            raise bulk_error(409, "INVALIDJOBSTATE", f"Job {job_id} is not finished: {job.state}")
        layout = job.layout
        if kind == "successfulResults":
            rows = [[rid, created, *row] for rid, created, row in job.successes]
            header = ["sf__Id", "sf__Created", *job.header]
        elif kind == "failedResults":
            rows = [[rid, error, *row] for rid, error, row in job.failures]
            header = ["sf__Id", "sf__Error", *job.header]
        else:
            done = len(job.successes) + len(job.failures)
            rows, header = [list(r) for r in job.rows[done:]], job.header
        return write_csv(header, rows, layout.delimiter, layout.newline)

    def delete_ingest(self, job_id: str) -> None:
        """Forget a finished ingest job."""
        job = self.ingest(job_id)
        if job.state not in _FINISHED:
            raise bulk_error(409, "INVALIDJOBSTATE", f"Job {job_id} is not finished: {job.state}")
        del self._ingest[job_id]

    def ingest_jobs(self) -> list[IngestJob]:
        return list(self._ingest.values())

    # ------------------------------------------------------------ query

    def create_query(
        self, operation: str, text: str, ctx: WriteContext, layout: JobFormat | None = None
    ) -> QueryJob:
        """Accept a query job after checking its SOQL (errors as REST reports them)."""
        if operation not in QUERY_OPERATIONS:
            raise bulk_error(400, "INVALIDJOB", f"InvalidJob : Invalid operation: {operation}")
        query, shape = check_soql(text, StateRecordSource(self._state))
        columns = _bulk_columns(query)
        now = self._state.clock()
        job = QueryJob(
            id=self._minter.mint("750"),
            object=shape.name,
            operation=operation,
            ctx=ctx,
            created=now,
            layout=layout or JobFormat(),
            state="UploadComplete",
            modstamp=now,
            query=text,
            columns=columns,
        )
        self._query[job.id] = job
        return job

    def query_job(self, job_id: str) -> QueryJob:
        """Return the query job, or raise NOT_FOUND."""
        job = self._query.get(job_id)
        if job is None:
            raise not_found()
        return job

    def process_query(self, job_id: str) -> None:
        """Run the job's SOQL and keep its rows for the results pages."""
        job = self.query_job(job_id)
        if job.state != "UploadComplete":
            return
        job.state = "InProgress"
        result = run_soql(
            job.query,
            StateRecordSource(self._state),
            now=self._state.clock(),
            include_deleted=job.operation == "queryAll",
            api_version=job.ctx.api_version,
        )
        job.rows = [flatten_row(row, job.columns) for row in result.records]
        self._finish(job, "JobComplete")

    def abort_query(self, job_id: str, wanted: str) -> QueryJob:
        job = self.query_job(job_id)
        return self._change(job, wanted)

    def query_results(
        self, job_id: str, version: str, locator: str | None, max_records: int | None
    ) -> tuple[str, str, int]:
        """Return one page of CSV, the next locator (``"null"`` at the end) and its row count."""
        job = self.query_job(job_id)
        if version != job.ctx.api_version:
            message = f"Job {job_id} was created at API version {job.ctx.api_version}"
            raise bulk_error(409, "INVALIDJOB", message)
        if job.state != "JobComplete":
            raise bulk_error(409, "INVALIDJOBSTATE", f"Job {job_id} is not complete: {job.state}")
        start = _offset(locator)
        end = len(job.rows) if max_records is None else min(start + max_records, len(job.rows))
        page = job.rows[start:end]
        text = write_csv(job.columns, page, job.layout.delimiter, job.layout.newline)
        next_locator = _locator(end) if end < len(job.rows) else "null"
        return text, next_locator, len(page)

    def delete_query(self, job_id: str) -> None:
        self.query_job(job_id)
        del self._query[job_id]

    def query_jobs(self) -> list[QueryJob]:
        return list(self._query.values())


def _record_id(fields: dict[str, object]) -> str:
    raw = next((str(v) for k, v in fields.items() if k.lower() == "id" and v), None)
    if raw is None:
        raise bulk_error(400, "MISSING_ARGUMENT", "Id not specified in an update call")
    if not is_valid_id(raw):
        raise bulk_error(400, "MALFORMED_ID", f"malformed id {raw}")
    return normalise_id(raw)


def _bulk_columns(query: Query) -> list[str]:
    columns = []
    for item in query.select:
        if not isinstance(item, FieldPath):
            message = "Bulk API 2.0 queries support neither child subqueries nor aggregates"
            raise bulk_error(400, "API_ERROR", message)
        columns.append(item.dotted)
    return columns


def _locator(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode().rstrip("=")


def _offset(locator: str | None) -> int:
    if not locator:
        return 0
    try:
        decoded = base64.b64decode(locator + "=" * (-len(locator) % 4), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    if not decoded.isdigit():
        raise bulk_error(400, "INVALIDLOCATOR", f"Invalid locator: {locator}")
    return int(decoded)
