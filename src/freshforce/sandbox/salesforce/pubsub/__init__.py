"""The Salesforce sandbox's Pub/Sub API: change data capture and platform events over gRPC."""

from freshforce.sandbox.salesforce.pubsub.admin import pubsub_admin_router
from freshforce.sandbox.salesforce.pubsub.auth import TokenCheck
from freshforce.sandbox.salesforce.pubsub.controls import PubSubControls
from freshforce.sandbox.salesforce.pubsub.gaps import emit_gap
from freshforce.sandbox.salesforce.pubsub.runner import PubSubRunner, attach_pubsub
from freshforce.sandbox.salesforce.pubsub.server import PubSubServer, start_pubsub_server
from freshforce.sandbox.salesforce.pubsub.service import PubSubService
from freshforce.sandbox.salesforce.pubsub.topics import TopicRegistry

__all__ = [
    "PubSubControls",
    "PubSubRunner",
    "PubSubServer",
    "PubSubService",
    "TokenCheck",
    "TopicRegistry",
    "attach_pubsub",
    "emit_gap",
    "pubsub_admin_router",
    "start_pubsub_server",
]
