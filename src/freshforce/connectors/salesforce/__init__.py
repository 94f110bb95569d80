"""The Salesforce connector: REST client, API budget governor, poller and CDC subscriber."""

from freshforce.connectors.salesforce.governor import (
    BudgetSnapshot,
    Governor,
    GovernorConfig,
    Priority,
)
from freshforce.connectors.salesforce.ids import to_18

__all__ = ["BudgetSnapshot", "Governor", "GovernorConfig", "Priority", "to_18"]
