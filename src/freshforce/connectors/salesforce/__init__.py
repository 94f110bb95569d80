"""The Salesforce connector: REST and Bulk API 2.0 client, budget governor, Pub/Sub client."""

from freshforce.connectors.salesforce.bulk import BulkJobError, BulkPolicy
from freshforce.connectors.salesforce.client import (
    BULK_THRESHOLD,
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
from freshforce.connectors.salesforce.pubsub import PubSubClient, Received

__all__ = [
    "BULK_THRESHOLD",
    "CALL_CLIENT",
    "BudgetSnapshot",
    "BulkJobError",
    "BulkPolicy",
    "Governor",
    "GovernorConfig",
    "LocatorLostError",
    "Priority",
    "PubSubClient",
    "Received",
    "SalesforceClient",
    "SalesforceOrg",
    "WriteResult",
    "map_salesforce_error",
    "to_18",
]
