"""Sync requests: a ``FreshBooks_Sync_Request__e`` platform event turned into one reconcile job.

``Action__c`` says what the admin asked for, ``Record_Id__c`` which record:

- ``sync``: reconcile the record (Account, Contact or Opportunity) for the flow that watches its
  object, as a change event of it would;
- ``invoice``: run the invoices flow on an Opportunity now (the flow invoices a won one once);
- ``resync_account``: reconcile an Account for the flow that watches Accounts.

Jobs use the usual keys (``salesforce/<Object>/<18-char id>``), so a request and a change of
the same record coalesce into one job. A request that names an unknown action, a malformed id or
an object no running flow syncs becomes a job of the ``sync_requests`` flow, which dead-letters
it at once with the reason: visible, editable and replayable like any dead letter, never a
crash of the listener.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from freshforce.connectors.salesforce.ids import to_18
from freshforce.connectors.salesforce.platform_events import PlatformEvent
from freshforce.engine.queue import JobRequest

__all__ = ["ACTIONS", "REJECTED_FLOW", "SYNC_REQUEST_EVENT", "request_job"]

SYNC_REQUEST_EVENT = "FreshBooks_Sync_Request__e"
REJECTED_FLOW = "sync_requests"
ACTIONS = ("sync", "invoice", "resync_account")
_OBJECTS = {"001": "Account", "003": "Contact", "006": "Opportunity"}
_INVOICES = "invoices"


@dataclass(frozen=True)
class _Request:
    record_id: str
    action: str
    requested_by: str
    event_id: str

    def hint(self, **extra: Any) -> dict[str, Any]:  # noqa: ANN401 - JSON hint values
        return {
            "source": "platform_event",
            "action": self.action,
            "requested_by": self.requested_by,
            "event_id": self.event_id,
            **extra,
        }


def _rejected(request: _Request, topic: str, reason: str) -> JobRequest:
    key = f"salesforce/{topic.removeprefix('/event/')}/{request.event_id or request.record_id}"
    return JobRequest(
        REJECTED_FLOW, key, (request.hint(record_id=request.record_id, reason=reason),)
    )


def request_job(
    event: PlatformEvent, topic: str, flows: Mapping[str, str], *, priority: int = 0
) -> JobRequest:
    """Return the job ``event`` asks for; ``flows`` maps each watched object to its flow."""
    request = _Request(
        record_id=event.text("Record_Id__c"),
        action=event.text("Action__c").lower(),
        requested_by=event.text("Requested_By__c"),
        event_id=event.event_id,
    )
    if request.action not in ACTIONS:
        allowed = ", ".join(ACTIONS)
        return _rejected(
            request, topic, f"Action__c {request.action or '(empty)'!r} is not one of {allowed}"
        )
    try:
        record_id = to_18(request.record_id)
    except ValueError:
        return _rejected(
            request, topic, f"Record_Id__c {request.record_id or '(empty)'!r} is no Salesforce id"
        )
    sobject = _OBJECTS.get(record_id[:3])
    flow = flows.get(sobject or "")
    if request.action == "invoice":
        flow = _INVOICES if sobject == "Opportunity" and _INVOICES in flows.values() else None
        wanted = "an Opportunity and the invoices flow running"
    elif request.action == "resync_account":
        flow = flow if sobject == "Account" else None
        wanted = "an Account watched by a running flow"
    else:
        wanted = "an Account, Contact or Opportunity watched by a running flow"
    if flow is None or sobject is None:
        reason = f"{request.action} of {record_id} ({sobject or 'unknown object'}) needs {wanted}"
        return _rejected(request, topic, reason)
    return JobRequest(
        flow, f"salesforce/{sobject}/{record_id}", (request.hint(),), priority=priority
    )
