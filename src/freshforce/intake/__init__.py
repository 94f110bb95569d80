"""Change capture: pollers, the CDC subscriber, one commit, one lease keeper, one cursor format.

Every source turns what changed remotely into raw events and "reconcile KEY for FLOW" jobs and
stores them with :func:`commit`, the one place intake writes: lease renewal, events, jobs and
cursor in one transaction. Streams are named ``<system>/<method>/<what>`` and leased as
``<connection>/<stream>``. FreshBooks webhook deliveries (the web app's route calls
:func:`receive_freshbooks`) are checked here and committed with ``keeper=None`` and no cursor.
"""

from freshforce.intake.callbacks import (
    CALLBACK_EVENTS,
    CallbackAction,
    RegisteredCallback,
    register_callbacks,
    webhook_uri,
)
from freshforce.intake.cdc import CdcConfig, CdcSubscriber, Fallback
from freshforce.intake.commit import Batch, commit
from freshforce.intake.freshbooks_poller import FreshBooksPoller, PollerConfig
from freshforce.intake.lease import LeaseKeeper
from freshforce.intake.poll_result import PollResult
from freshforce.intake.salesforce_poller import PollTarget, SalesforcePoller
from freshforce.intake.stream import Cursor, Stream
from freshforce.intake.webhooks import WebhookOutcome, WebhookResult, receive_freshbooks

__all__ = [
    "CALLBACK_EVENTS",
    "Batch",
    "CallbackAction",
    "CdcConfig",
    "CdcSubscriber",
    "Cursor",
    "Fallback",
    "FreshBooksPoller",
    "LeaseKeeper",
    "PollResult",
    "PollTarget",
    "PollerConfig",
    "RegisteredCallback",
    "SalesforcePoller",
    "Stream",
    "WebhookOutcome",
    "WebhookResult",
    "commit",
    "receive_freshbooks",
    "register_callbacks",
    "webhook_uri",
]
