"""Pub/Sub error statuses: the gRPC code, the ``error-code`` trailer and the message to send.

The logic raises ``PubSubFault``; the servicer turns it into a status with ``error-code`` and
``rpc-id`` trailers, as Salesforce does. Messages never carry a token.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc

__all__ = [
    "AUTH_ERROR",
    "INVALID_REQUEST",
    "PUBLISH_NOT_ALLOWED",
    "REPLAY_ID_CORRUPTED",
    "SCHEMA_NOT_FOUND",
    "SERVICE_UNAVAILABLE",
    "TOPIC_NOT_FOUND",
    "PubSubFault",
    "service_unavailable",
]

_PREFIX = "sfdc.platform.eventbus.grpc."
# Documented in the reference (section 10).
AUTH_ERROR = _PREFIX + "service.auth.error"
REPLAY_ID_CORRUPTED = _PREFIX + "subscription.fetch.replayid.corrupted"
SERVICE_UNAVAILABLE = _PREFIX + "service.unavailable"
# Not in the reference: named in the same style, UNCONFIRMED against a real org.
TOPIC_NOT_FOUND = _PREFIX + "service.topic.not.found"
SCHEMA_NOT_FOUND = _PREFIX + "service.schema.not.found"
INVALID_REQUEST = _PREFIX + "subscription.fetch.invalid.request"
PUBLISH_NOT_ALLOWED = _PREFIX + "service.publish.not.allowed"


@dataclass(frozen=True)
class PubSubFault(Exception):  # noqa: N818 - a fault is what the caller receives, not a bug
    """A refusal the caller receives as a gRPC status with an ``error-code`` trailer."""

    status: grpc.StatusCode
    error_code: str
    message: str

    def __str__(self) -> str:
        return f"{self.status.name} {self.error_code}: {self.message}"


def service_unavailable() -> PubSubFault:
    """Return the fault an injected outage answers with, on new calls and open streams alike."""
    return PubSubFault(
        grpc.StatusCode.UNAVAILABLE,
        SERVICE_UNAVAILABLE,
        "The service is unavailable. Try again later.",
    )
