"""Which platform event definitions the configuration needs and the org lacks.

``platform_event_channels`` needs each channel's event (a sync request channel needs
``Record_Id__c`` and ``Action__c``); ``platform_event_publish`` needs the event of each fact with
every field freshforce fills. ``missing_platform_events`` describes each one in the org and
returns one message per gap, naming the event, the missing fields and where the metadata to
deploy is (docs/platform-events.md). ``run`` / ``listen`` log them at start.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from freshforce.errors import PermanentError
from freshforce.flows.announce import EVENTS

if TYPE_CHECKING:
    from freshforce.connectors.salesforce import SalesforceClient

__all__ = ["NEEDED_FIELDS", "missing_platform_events"]

NEEDED_FIELDS: Mapping[str, frozenset[str]] = {
    "FreshBooks_Sync_Request__e": frozenset({"Record_Id__c", "Action__c"}),
    "FreshBooks_Invoice_Event__e": frozenset(
        {"Event_Key__c", "Opportunity_Id__c", "Account_Id__c", "Invoice_Id__c",
         "Invoice_Number__c", "Amount__c", "Currency__c", "Status__c"}
    ),
    "FreshBooks_Payment_Event__e": frozenset(
        {"Event_Key__c", "Opportunity_Id__c", "Invoice_Id__c", "Payment_Status__c",
         "Amount_Paid__c", "Balance__c", "Last_Payment_Date__c", "Currency__c"}
    ),
    "FreshForce_Sync_Error__e": frozenset(
        {"Event_Key__c", "Flow__c", "Record_Key__c", "Record_Id__c", "Reason__c"}
    ),
}  # fmt: skip
_SEE = "deploy it from docs/platform-events.md"


def _wanted(channels: Iterable[str], publish: Iterable[str]) -> list[str]:
    names = [channel.removeprefix("/event/") for channel in channels]
    names += [EVENTS[kind] for kind in publish]
    return list(dict.fromkeys(names))


async def missing_platform_events(
    client: SalesforceClient, *, channels: Iterable[str], publish: Iterable[str]
) -> list[str]:
    """Return what the org lacks for ``channels`` and the facts in ``publish`` (empty: nothing)."""
    problems: list[str] = []
    for name in _wanted(channels, publish):
        try:
            info = await client.describe(name)
        except PermanentError:
            problems.append(f"platform event {name} is not defined in the org; {_SEE}")
            continue
        absent = sorted(NEEDED_FIELDS.get(name, frozenset()) - info.field_names())
        if absent:
            problems.append(f"platform event {name} lacks {', '.join(absent)}; {_SEE}")
    return problems
