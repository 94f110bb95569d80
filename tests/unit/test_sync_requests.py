"""Which job a sync request event asks for, and the reason when it cannot be served."""

from __future__ import annotations

import pytest

from freshforce.connectors.salesforce.platform_events import PlatformEvent
from freshforce.intake.event_subscriber import EventChannelConfig
from freshforce.intake.sync_requests import REJECTED_FLOW, request_job

CHANNEL = "/event/FreshBooks_Sync_Request__e"
FLOWS = {"Account": "clients", "Contact": "clients", "Opportunity": "invoices"}
ACCOUNT, CONTACT, DEAL = "001000000000001", "003000000000001", "006000000000001AAA"


def event(record_id: str, action: str) -> PlatformEvent:
    return PlatformEvent(b"\0", "ev-1", {"Record_Id__c": record_id, "Action__c": action})


@pytest.mark.parametrize(
    ("record_id", "action", "flow", "obj"),
    [
        (ACCOUNT, "sync", "clients", "Account"),
        (CONTACT, " SYNC ", "clients", "Contact"),
        (DEAL, "sync", "invoices", "Opportunity"),
        (DEAL, "invoice", "invoices", "Opportunity"),
        (ACCOUNT, "resync_account", "clients", "Account"),
    ],
)
def test_servable_requests_become_the_records_job(
    record_id: str, action: str, flow: str, obj: str
) -> None:
    job = request_job(event(record_id, action), CHANNEL, FLOWS)
    assert (job.flow, job.key.rsplit("/", 1)[0]) == (flow, f"salesforce/{obj}")
    assert len(job.key.rsplit("/", 1)[1]) == 18


@pytest.mark.parametrize(
    ("record_id", "action", "reason"),
    [
        (ACCOUNT, "invoice", "(Account) needs an Opportunity"),
        (CONTACT, "resync_account", "(Contact) needs an Account"),
        ("00Q000000000001", "sync", "(unknown object) needs an Account, Contact or Opportunity"),
        ("", "sync", "Record_Id__c '(empty)' is no Salesforce id"),
        (ACCOUNT, "", "Action__c '(empty)' is not one of"),
    ],
)
def test_unservable_requests_carry_their_reason(record_id: str, action: str, reason: str) -> None:
    job = request_job(event(record_id, action), CHANNEL, FLOWS)
    assert job.flow == REJECTED_FLOW
    assert job.key == "salesforce/FreshBooks_Sync_Request__e/ev-1"
    [hint] = job.hints
    assert isinstance(hint, dict)
    assert reason in hint["reason"]


def test_invoice_needs_the_invoices_flow_running() -> None:
    job = request_job(event(DEAL, "invoice"), CHANNEL, {"Account": "clients"})
    assert job.flow == REJECTED_FLOW


def test_a_channel_must_be_a_platform_event() -> None:
    with pytest.raises(ValueError, match="is not /event/<Name>__e"):
        EventChannelConfig("/data/AccountChangeEvent", FLOWS)
