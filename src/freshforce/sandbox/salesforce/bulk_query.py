"""Bulk API 2.0 query jobs: check SOQL up front, run it, page the rows out as CSV by locator.

The SOQL runs through the same engine as REST ``query``; rows are flattened to columns named as
the query names them (``Account.Name``). Locators are the base64 of the next row's offset.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from freshforce.sandbox.salesforce.bulk_csv import flatten_row, write_csv
from freshforce.sandbox.salesforce.bulk_job import Info, JobBase, JobFormat, JobState, bulk_error
from freshforce.sandbox.salesforce.errors import not_found
from freshforce.sandbox.salesforce.ids import IdMinter
from freshforce.sandbox.salesforce.soql import StateRecordSource, check_soql, run_soql
from freshforce.sandbox.salesforce.soql_ast import FieldPath, Query
from freshforce.sandbox.salesforce.soql_source import ObjectShape
from freshforce.sandbox.salesforce.state import SalesforceState, WriteContext

__all__ = ["QueryJob", "QueryJobs"]

OPERATIONS = ("query", "queryAll")
_ALLOWED: dict[str, tuple[JobState, ...]] = {"Aborted": ("UploadComplete", "InProgress")}


@dataclass
class QueryJob(JobBase):
    """A query job: its SOQL and, once run, the flattened rows."""

    query: str = ""
    columns: list[str] = field(default_factory=list)
    rows: list[list[object]] = field(default_factory=list)

    def info(self) -> Info:
        info = self.base_info("V2Query")
        info.update(numberRecordsProcessed=len(self.rows), retries=0, totalProcessingTime=0)
        return info


class QueryJobs:
    """The org's query jobs."""

    def __init__(self, state: SalesforceState, minter: IdMinter) -> None:
        self._state = state
        self._minter = minter
        self._jobs: dict[str, QueryJob] = {}

    def reset(self) -> None:
        self._jobs.clear()

    def create(
        self, operation: str, text: str, ctx: WriteContext, layout: JobFormat | None = None
    ) -> QueryJob:
        """Accept a query job after checking its SOQL (errors as REST reports them)."""
        if operation not in OPERATIONS:
            raise bulk_error(400, "INVALIDJOB", f"InvalidJob : Invalid operation: {operation}")
        source = StateRecordSource(self._state)
        query, shape = check_soql(text, source)
        columns = _columns(query)
        if any(_is_compound(source, shape, column) for column in columns):
            raise bulk_error(
                400, "API_ERROR", "Selecting compound data not supported in Bulk Query"
            )
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
        self._jobs[job.id] = job
        return job

    def get(self, job_id: str) -> QueryJob:
        """Return the job, or raise NOT_FOUND."""
        job = self._jobs.get(job_id)
        if job is None:
            raise not_found()
        return job

    def all(self) -> list[QueryJob]:
        return list(self._jobs.values())

    async def process(self, job_id: str) -> None:
        """Run the job's SOQL and keep its rows for the results pages (on the server's loop)."""
        job = self.get(job_id)
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
        job.finish("JobComplete", self._state.clock())

    def change_state(self, job_id: str, wanted: str) -> QueryJob:
        """Abort a job that has not finished."""
        job = self.get(job_id)
        job.request_state(wanted, _ALLOWED, self._state.clock())
        return job

    def results(
        self, job_id: str, version: str, locator: str | None, max_records: int | None
    ) -> tuple[str, str, int]:
        """Return one page of CSV, the next locator (``"null"`` at the end) and its row count."""
        job = self.get(job_id)
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

    def delete(self, job_id: str) -> None:
        """Forget a job."""
        self.get(job_id)
        del self._jobs[job_id]


def _columns(query: Query) -> list[str]:
    columns = []
    for item in query.select:
        if not isinstance(item, FieldPath):
            message = "Bulk API 2.0 queries support neither child subqueries nor aggregates"
            raise bulk_error(400, "API_ERROR", message)
        columns.append(item.dotted)
    return columns


def _is_compound(source: StateRecordSource, shape: ObjectShape | None, column: str) -> bool:
    """Whether ``column`` (``BillingAddress``, ``Account.BillingAddress``) is a compound field."""
    *parents, name = column.split(".")
    for step in parents:
        link = (
            next((p for p in shape.parents if p.name.lower() == step.lower()), None)
            if shape
            else None
        )
        shape = source.shape(link.target) if link else None
    field = (
        next((f for f in shape.fields if f.name.lower() == name.lower()), None) if shape else None
    )
    return field is not None and bool(field.parts)


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
