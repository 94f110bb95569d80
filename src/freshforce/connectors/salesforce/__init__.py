"""The Salesforce connector: REST client, API budget governor, poller and CDC subscriber."""

from freshforce.connectors.salesforce.cdc import CdcConfig, CdcSubscriber, Fallback, LeaseLostError
from freshforce.connectors.salesforce.client import (
    CALL_CLIENT,
    LocatorLostError,
    SalesforceClient,
    SalesforceOrg,
)
from freshforce.connectors.salesforce.errors import map_salesforce_error
from freshforce.connectors.salesforce.governor import (
    BudgetSnapshot,
    Governor,
    GovernorConfig,
    Priority,
)
from freshforce.connectors.salesforce.ids import to_18
from freshforce.connectors.salesforce.models import WriteResult
from freshforce.connectors.salesforce.poller import PollTarget, SalesforcePoller

__all__ = [
    "CALL_CLIENT",
    "BudgetSnapshot",
    "CdcConfig",
    "CdcSubscriber",
    "Fallback",
    "Governor",
    "GovernorConfig",
    "LeaseLostError",
    "LocatorLostError",
    "PollTarget",
    "Priority",
    "SalesforceClient",
    "SalesforceOrg",
    "SalesforcePoller",
    "WriteResult",
    "map_salesforce_error",
    "to_18",
]
