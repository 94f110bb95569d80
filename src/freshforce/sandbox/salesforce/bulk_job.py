"""What every Bulk API 2.0 job shares: its states, CSV layout, info fields and transitions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from freshforce.sandbox.salesforce.bulk_csv import DELIMITERS, LINE_ENDINGS
from freshforce.sandbox.salesforce.errors import ErrorItem, SalesforceError
from freshforce.sandbox.salesforce.state import WriteContext
from freshforce.sandbox.salesforce.wire import format_datetime

__all__ = ["FINISHED", "Info", "JobBase", "JobFormat", "JobState", "bulk_error"]

JobState = Literal["Open", "UploadComplete", "InProgress", "JobComplete", "Failed", "Aborted"]
FINISHED: tuple[JobState, ...] = ("JobComplete", "Failed", "Aborted")
# Job info is JSON bound for the wire.
Info = dict[str, Any]


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
class JobBase:
    """The fields and state changes of any job; ingest and query jobs extend it."""

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
        """Return the info fields every job reports."""
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

    def request_state(
        self, wanted: str, allowed: dict[str, tuple[JobState, ...]], now: datetime
    ) -> None:
        """Move to a client-requested state, or raise INVALIDJOBSTATE (400 unknown, 409 late)."""
        if wanted not in allowed:
            raise bulk_error(400, "INVALIDJOBSTATE", f"Invalid state requested: {wanted}")
        if self.state not in allowed[wanted]:
            message = f"Job {self.id} is {self.state} and cannot change to {wanted}"
            raise bulk_error(409, "INVALIDJOBSTATE", message)
        self.state = wanted  # type: ignore[assignment]  # a key of `allowed`, all JobStates
        self.modstamp = now

    @property
    def aborted(self) -> bool:
        return self.state == "Aborted"

    def finish(self, final: JobState, now: datetime, error: str | None = None) -> None:
        """Record the end of processing."""
        self.state = final
        self.error_message = error
        self.modstamp = now

    def require_finished(self) -> None:
        """Raise INVALIDJOBSTATE (409) unless the job is complete, failed or aborted."""
        if self.state not in FINISHED:
            raise bulk_error(409, "INVALIDJOBSTATE", f"Job {self.id} is not finished: {self.state}")
