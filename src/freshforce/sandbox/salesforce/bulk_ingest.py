"""Bulk API 2.0 ingest jobs: collect CSV batches, then write each row through the org's state.

A job is ``Open`` while batches arrive, ``UploadComplete`` once closed, then ``InProgress`` and
``JobComplete`` (or ``Failed``/``Aborted``). Each row is its own write with ``api="bulkapi"``, so
validation, duplicate checks and CDC events are REST's and changeOrigin says ``bulkapi``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Literal

from freshforce.sandbox.salesforce.bulk_csv import NULL_MARKER, read_batch, write_csv
from freshforce.sandbox.salesforce.bulk_job import Info, JobBase, JobFormat, JobState, bulk_error
from freshforce.sandbox.salesforce.errors import ErrorItem, SalesforceError, not_found
from freshforce.sandbox.salesforce.ids import IdMinter, is_valid_id, normalise_id
from freshforce.sandbox.salesforce.state import (
    MultipleMatchesError,
    SalesforceState,
    WriteContext,
)

__all__ = ["IngestJob", "IngestJobs", "ResultKind"]

ResultKind = Literal["successfulResults", "failedResults", "unprocessedrecords"]
OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
_ALLOWED: dict[str, tuple[JobState, ...]] = {
    "UploadComplete": ("Open",),
    "Aborted": ("Open", "UploadComplete", "InProgress"),
}


@dataclass
class IngestJob(JobBase):
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
        """Return the info a create or state change answers with (no counters, a contentUrl)."""
        info = self.base_info("V2Ingest")
        if self.external_id_field:
            info["externalIdFieldName"] = self.external_id_field
        info["contentUrl"] = f"services/data/v{self.ctx.api_version}/jobs/ingest/{self.id}/batches"
        return info


class IngestJobs:
    """The org's ingest jobs."""

    def __init__(self, state: SalesforceState, minter: IdMinter) -> None:
        self._state = state
        self._minter = minter
        self._jobs: dict[str, IngestJob] = {}

    def reset(self) -> None:
        self._jobs.clear()

    def create(
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
        if operation not in OPERATIONS:
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
        self._jobs[job.id] = job
        return job

    def get(self, job_id: str) -> IngestJob:
        """Return the job, or raise NOT_FOUND."""
        job = self._jobs.get(job_id)
        if job is None:
            raise not_found()
        return job

    def all(self) -> list[IngestJob]:
        return list(self._jobs.values())

    def upload(self, job_id: str, text: str) -> None:
        """Add one CSV batch (with its header row) to an open job."""
        job = self.get(job_id)
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
        """Close (``UploadComplete``) or abort (``Aborted``) a job."""
        job = self.get(job_id)
        job.request_state(wanted, _ALLOWED, self._state.clock())
        return job

    async def process(self, job_id: str, *, chunk: int = 200) -> None:
        """Write every uploaded row of a closed job and record each outcome.

        Runs on the server's event loop like every other write, yielding to it every ``chunk``
        rows so REST calls (and an abort) interleave with a large job.
        """
        job = self.get(job_id)
        if job.state != "UploadComplete":
            return
        job.state = "InProgress"
        spec = self._state.describe(job.object)
        unknown = next((h for h in job.header if spec.field(h) is None), None)
        if unknown is not None:
            message = f"InvalidBatch : Field name not found : {unknown}"
            job.finish("Failed", self._state.clock(), message)
            return
        for index, row in enumerate(job.rows):
            if index and index % chunk == 0:
                await asyncio.sleep(0)
                if job.aborted:
                    return
            self._ingest_row(job, row)
        job.finish("JobComplete", self._state.clock())

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

    def results(self, job_id: str, kind: ResultKind) -> str:
        """Return one of the three result files of a finished job."""
        job = self.get(job_id)
        job.require_finished()
        if kind == "successfulResults":
            rows = [[rid, created, *row] for rid, created, row in job.successes]
            header = ["sf__Id", "sf__Created", *job.header]
        elif kind == "failedResults":
            rows = [[rid, error, *row] for rid, error, row in job.failures]
            header = ["sf__Id", "sf__Error", *job.header]
        else:
            done = len(job.successes) + len(job.failures)
            rows, header = [list(r) for r in job.rows[done:]], job.header
        return write_csv(header, rows, job.layout.delimiter, job.layout.newline)

    def delete(self, job_id: str) -> None:
        """Forget a finished job."""
        self.get(job_id).require_finished()
        del self._jobs[job_id]


def _record_id(fields: dict[str, object]) -> str:
    raw = next((str(v) for k, v in fields.items() if k.lower() == "id" and v), None)
    if raw is None:
        raise bulk_error(400, "MISSING_ARGUMENT", "Id not specified in an update call")
    if not is_valid_id(raw):
        raise bulk_error(400, "MALFORMED_ID", f"malformed id {raw}")
    return normalise_id(raw)
