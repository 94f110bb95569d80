"""The org's Bulk API 2.0 jobs without HTTP: ingest jobs and query jobs under one id space.

``bulk_ingest`` writes CSV rows through the state, ``bulk_query`` pages SOQL results as CSV,
``bulk_job`` holds what both share and ``bulk_api`` speaks the wire.
"""

from __future__ import annotations

from freshforce.sandbox.salesforce.bulk_ingest import IngestJob, IngestJobs, ResultKind
from freshforce.sandbox.salesforce.bulk_job import JobFormat, JobState, bulk_error
from freshforce.sandbox.salesforce.bulk_query import QueryJob, QueryJobs
from freshforce.sandbox.salesforce.ids import IdMinter
from freshforce.sandbox.salesforce.state import SalesforceState

__all__ = [
    "BulkJobs",
    "IngestJob",
    "IngestJobs",
    "JobFormat",
    "JobState",
    "QueryJob",
    "QueryJobs",
    "ResultKind",
    "bulk_error",
]


class BulkJobs:
    """Every Bulk API 2.0 job of one org: ``ingest`` and ``query``, ids from one ``750`` minter."""

    def __init__(self, state: SalesforceState) -> None:
        minter = IdMinter(pod="0b")
        self.ingest = IngestJobs(state, minter)
        self.query = QueryJobs(state, minter)

    def reset(self) -> None:
        """Forget every job (sandbox reset)."""
        self.ingest.reset()
        self.query.reset()
