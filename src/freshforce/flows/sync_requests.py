"""The ``sync_requests`` flow: platform event sync requests that cannot be served, dead-lettered.

Intake turns a ``FreshBooks_Sync_Request__e`` it cannot route (unknown ``Action__c``, malformed
``Record_Id__c``, an object no running flow syncs) into a job of this flow carrying the reason;
this flow fails it at once, so it lands in the dead letters with that reason as its error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from freshforce.engine import JobFlow, Outcome
from freshforce.errors import PermanentError
from freshforce.intake.sync_requests import REJECTED_FLOW

if TYPE_CHECKING:
    from freshforce.engine import FlowContext
    from freshforce.store.queue import Job

__all__ = ["REJECTED_FLOW", "rejected_requests_flow"]


async def _reject(job: Job, _ctx: FlowContext) -> Outcome:
    reasons = [h["reason"] for h in job.hints if isinstance(h, dict) and "reason" in h]
    reason = "; ".join(str(r) for r in reasons) or "the sync request cannot be served"
    error = PermanentError(
        f"sync request rejected: {reason}", flow=REJECTED_FLOW, record_key=job.key
    )
    return Outcome.fail(job, error)


def rejected_requests_flow() -> JobFlow:
    """Return the flow that dead-letters unservable sync requests with their reason."""
    return JobFlow(REJECTED_FLOW, _reject)
