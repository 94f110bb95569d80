"""Bulk API 2.0 jobs: ingest (insert/update/upsert/delete) and query, for large loads.

An ingest job is created, fed CSV (``PUT …/batches``, one or more files each with its header),
closed (``UploadComplete``), polled with growing waits until ``JobComplete``, ``Failed`` or
``Aborted``, and its result files are matched back to the records. A query job is created with
SOQL, polled the same way, and its CSV results are read page by page following
``Sforce-Locator`` until the string ``"null"``. Every request goes through the caller's ``Send``
(governor admission, retries, counting) and carries ``Sforce-Call-Options: client=freshforce``.
A failed or aborted job raises ``BulkJobError`` naming the job id; a job still running when the
time budget runs out raises ``AmbiguousWriteError`` (ingest: it may still apply) or
``TransientError`` (query).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx

from freshforce.connectors.core import Sleep
from freshforce.connectors.salesforce.bulk_csv import (
    build_upload,
    columns_of,
    match_results,
    parse_rows,
)
from freshforce.connectors.salesforce.errors import SalesforceFault
from freshforce.connectors.salesforce.governor import Priority
from freshforce.connectors.salesforce.models import WriteResult
from freshforce.connectors.salesforce.soql import check_name
from freshforce.errors import AmbiguousWriteError, PermanentError, TransientError

__all__ = ["BulkJobError", "BulkPolicy", "Operation", "SalesforceBulk", "Send"]

Operation = Literal["insert", "update", "upsert", "delete"]
# A record as Salesforce takes it: a JSON-like object.
Record = Mapping[str, Any]
_DONE = frozenset({"JobComplete", "Failed", "Aborted"})
_LAST_PAGE = "null"


class Send(Protocol):
    """The client's one request path: admission, retries, counting; returns the raw answer."""

    def __call__(
        self,
        method: str,
        path: str,
        *,
        priority: Priority,
        json: Any = None,  # noqa: ANN401 - a JSON body for the wire
        content: bytes | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Awaitable[httpx.Response]: ...


@dataclass(frozen=True)
class BulkPolicy:
    """How bulk jobs are fed and waited for."""

    first_wait: float = 0.5
    factor: float = 2.0
    max_wait: float = 15.0
    budget_seconds: float = 1800.0
    max_upload_bytes: int = 100_000_000
    page_records: int = 50_000

    def wait(self, poll: int) -> float:
        """Return the pause before poll number ``poll`` (1-based), growing to ``max_wait``."""
        return min(self.first_wait * self.factor ** (poll - 1), self.max_wait)


class BulkJobError(PermanentError):
    """A bulk job ended Failed or Aborted; ``job_id`` says which, for the Setup audit.

    ``results`` holds an aborted ingest job's per-record results (empty otherwise).
    """

    def __init__(self, message: str, *, job_id: str, state: str) -> None:
        super().__init__(message, system="salesforce", remote_code=state)
        self.job_id = job_id
        self.state = state
        self.results: list[WriteResult] = []


class SalesforceBulk:
    """Runs Bulk API 2.0 jobs for one Salesforce client."""

    def __init__(
        self,
        send: Send,
        base: str,
        *,
        call_client: str,
        policy: BulkPolicy,
        sleep: Sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self._base = f"{base}/jobs"
        self._options = {"Sforce-Call-Options": f"client={call_client}"}
        self.policy = policy
        self._sleep = sleep
        self._monotonic = monotonic

    async def _request(
        self,
        method: str,
        path: str,
        *,
        priority: Priority,
        json: Any = None,  # noqa: ANN401 - a JSON body for the wire
        content: bytes | None = None,
        params: Mapping[str, str] | None = None,
        content_type: str | None = None,
    ) -> httpx.Response:
        headers = dict(self._options)
        if content_type:
            headers["Content-Type"] = content_type
        return await self._send(
            method,
            f"{self._base}/{path}",
            priority=priority,
            json=json,
            content=content,
            params=params,
            headers=headers,
        )

    async def ingest(
        self,
        sobject: str,
        operation: Operation,
        records: Sequence[Record],
        *,
        priority: Priority,
        external_id_field: str | None = None,
    ) -> list[WriteResult]:
        """Write ``records`` in one ingest job; one result per record, in input order."""
        columns = columns_of(records)
        files = build_upload(records, columns, max_bytes=self.policy.max_upload_bytes)
        job_id = await self.open(sobject, operation, priority, external_id_field)
        for text in files:
            await self.upload(job_id, text, priority=priority)
        await self.close(job_id, priority=priority)
        return await self.finish(job_id, records, priority=priority)

    async def finish(
        self, job_id: str, records: Sequence[Record], *, priority: Priority
    ) -> list[WriteResult]:
        """Wait for a closed ingest job and return one result per record, in input order.

        An aborted job raises ``BulkJobError`` carrying the per-record results read so far
        (records it never reached, from ``unprocessedrecords``, say ``UNPROCESSED``). A record no
        result file mentions gets a ``NO_RESULT`` fault.
        """
        try:
            await self.wait("ingest", job_id, priority=priority)
        except BulkJobError as exc:
            if exc.state == "Aborted":
                exc.results = await self._outcomes(job_id, records, priority, aborted=True)
            raise
        return await self._outcomes(job_id, records, priority)

    async def _outcomes(
        self, job_id: str, records: Sequence[Record], priority: Priority, *, aborted: bool = False
    ) -> list[WriteResult]:
        columns = columns_of(records)
        successes = await self._result_rows(job_id, "successfulResults", priority)
        failures = await self._result_rows(job_id, "failedResults", priority)
        skipped = await self._result_rows(job_id, "unprocessedrecords", priority) if aborted else []
        found = match_results(records, columns, successes, failures, skipped)
        return [r or _unreported(job_id) for r in found]

    async def open(
        self,
        sobject: str,
        operation: Operation,
        priority: Priority,
        external_id_field: str | None = None,
    ) -> str:
        """Create an ingest job and return its id."""
        body: dict[str, str] = {
            "object": check_name(sobject),
            "operation": operation,
            "contentType": "CSV",
            "columnDelimiter": "COMMA",
            "lineEnding": "LF",
        }
        if operation == "upsert":
            if not external_id_field:
                msg = f"bulk upsert of {sobject} needs an external id field"
                raise ValueError(msg)
            body["externalIdFieldName"] = check_name(external_id_field)
        answer = await self._request("POST", "ingest", json=body, priority=priority)
        return _job_id(answer.json())

    async def upload(self, job_id: str, text: str, *, priority: Priority) -> None:
        """Send one CSV file (with its header row) to an open ingest job."""
        await self._request(
            "PUT",
            f"ingest/{job_id}/batches",
            content=text.encode(),
            content_type="text/csv",
            priority=priority,
        )

    async def close(self, job_id: str, *, priority: Priority) -> None:
        """Mark the upload complete: Salesforce starts processing."""
        body = {"state": "UploadComplete"}
        await self._request("PATCH", f"ingest/{job_id}", json=body, priority=priority)

    async def abort(
        self, kind: Literal["ingest", "query"], job_id: str, *, priority: Priority
    ) -> None:
        """Stop a job that has not finished."""
        body = {"state": "Aborted"}
        await self._request("PATCH", f"{kind}/{job_id}", json=body, priority=priority)

    async def wait(
        self, kind: Literal["ingest", "query"], job_id: str, *, priority: Priority
    ) -> dict[str, Any]:  # the job info as sent, at the wire
        """Poll a job until it completes; raise ``BulkJobError`` if it failed or was aborted."""
        started = self._monotonic()
        poll = 0
        while True:
            info = (await self._request("GET", f"{kind}/{job_id}", priority=priority)).json()
            state = str(info.get("state", "")) if isinstance(info, dict) else ""
            if state == "JobComplete":
                return dict(info)
            if state in _DONE:
                reason = info.get("errorMessage") or "no reason given"
                msg = f"Salesforce bulk {kind} job {job_id} ended {state}: {reason}"
                raise BulkJobError(msg, job_id=job_id, state=state)
            poll += 1
            if self._monotonic() - started >= self.policy.budget_seconds:
                raise _unfinished(kind, job_id, state)
            await self._sleep(self.policy.wait(poll))

    async def _result_rows(
        self, job_id: str, kind: str, priority: Priority
    ) -> list[dict[str, str]]:
        answer = await self._request("GET", f"ingest/{job_id}/{kind}", priority=priority)
        return parse_rows(answer.text)

    async def query(
        self, soql: str, *, priority: Priority, include_deleted: bool = False
    ) -> list[dict[str, str | None]]:
        """Run ``soql`` as a query job; rows keyed by column (``Account.Name``), empty = None."""
        body = {"operation": "queryAll" if include_deleted else "query", "query": soql}
        job_id = _job_id(
            (await self._request("POST", "query", json=body, priority=priority)).json()
        )
        await self.wait("query", job_id, priority=priority)
        rows: list[dict[str, str | None]] = []
        locator: str | None = None
        while True:
            params = {"maxRecords": str(self.policy.page_records)}
            if locator:
                params["locator"] = locator
            page = await self._request(
                "GET", f"query/{job_id}/results", params=params, priority=priority
            )
            rows.extend({k: v or None for k, v in row.items()} for row in parse_rows(page.text))
            locator = page.headers.get("sforce-locator")
            if not locator or locator == _LAST_PAGE:
                return rows


def _job_id(body: Any) -> str:  # noqa: ANN401 - decoded JSON
    job_id = body.get("id") if isinstance(body, dict) else None
    if not isinstance(job_id, str) or not job_id:
        msg = "Salesforce bulk job answer has no job id"
        raise PermanentError(msg, system="salesforce")
    return job_id


def _unfinished(kind: str, job_id: str, state: str) -> TransientError:
    msg = f"Salesforce bulk {kind} job {job_id} still {state or 'unknown'} after the time budget"
    if kind == "ingest":
        return AmbiguousWriteError(msg + "; it may still apply", system="salesforce")
    return TransientError(msg, system="salesforce")


def _unreported(job_id: str) -> WriteResult:
    fault = SalesforceFault("NO_RESULT", f"bulk job {job_id} reported no result for this record")
    return WriteResult(None, success=False, errors=(fault,))
