"""Pub/Sub call authentication: the ``accesstoken``/``instanceurl``/``tenantid`` metadata.

Salesforce's Java sample writes the keys in camelCase; gRPC lower-cases them on the wire, and
we match case-insensitively anyway. The token is checked by a callable the REST state provides.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import grpc

from freshforce.sandbox.salesforce.pubsub.faults import AUTH_ERROR, PubSubFault

__all__ = ["Caller", "TokenCheck", "authenticate"]

# Given an access token, return the org id it was issued for, or None if it is not valid.
TokenCheck = Callable[[str], str | None]
_REQUIRED = ("accesstoken", "instanceurl", "tenantid")


@dataclass(frozen=True)
class Caller:
    """Who is calling: the org the token belongs to and the instance URL they named."""

    org_id: str
    instance_url: str


def _auth_fault(message: str) -> PubSubFault:
    return PubSubFault(grpc.StatusCode.UNAUTHENTICATED, AUTH_ERROR, message)


def _values(metadata: Iterable[tuple[str, str | bytes]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in metadata:
        name = key.lower()
        if name in _REQUIRED:
            found[name] = value.decode() if isinstance(value, bytes) else value
    return found


def authenticate(metadata: Iterable[tuple[str, str | bytes]], check: TokenCheck) -> Caller:
    """Return the caller named by the call's metadata, or raise an auth ``PubSubFault``."""
    values = _values(metadata)
    missing = [name for name in _REQUIRED if not values.get(name)]
    if missing:
        raise _auth_fault(f"missing authentication metadata: {', '.join(missing)}")
    org_id = check(values["accesstoken"])
    if org_id is None:
        raise _auth_fault("the access token is invalid or expired; authenticate again")
    if org_id[:15] != values["tenantid"][:15]:
        raise _auth_fault(f"tenantid {values['tenantid']} is not the org of the access token")
    return Caller(org_id=org_id, instance_url=values["instanceurl"])
