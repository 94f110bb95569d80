"""Salesforce error mapping: an HTTP status plus the error array onto freshforce's error classes.

Salesforce answers errors as a JSON array of ``{"message","errorCode","fields"}`` (sObject
Collections results say ``statusCode``). What happens next depends on the code, not the status:
403 is both REQUEST_LIMIT_EXCEEDED (wait a long time, never re-authenticate) and
INSUFFICIENT_ACCESS (permanent). ``classify`` is the one place that decision is made, and
``map_salesforce_error`` is the ``ErrorMapper`` the HTTP core calls on every answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from freshforce.connectors.core.retry import retry_after_seconds
from freshforce.errors import (
    AuthError,
    FreshforceError,
    PermanentError,
    RecordGoneError,
    TransientError,
)

__all__ = [
    "LIMIT_RETRY_SECONDS",
    "SalesforceFault",
    "classify",
    "is_daily_limit",
    "map_salesforce_error",
    "parse_error_body",
    "refused_fields",
]

SYSTEM = "salesforce"
# REQUEST_LIMIT_EXCEEDED has no Retry-After: the 24-hour window frees calls slowly, so wait long.
LIMIT_RETRY_SECONDS = 900.0
_SERVER_RETRY_SECONDS = 5.0
_TRANSIENT_CODES = frozenset(
    {"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "UNKNOWN_EXCEPTION", "QUERY_TIMEOUT"}
)
_AUTH_CODES = frozenset({"INVALID_SESSION_ID", "INVALID_AUTH_HEADER"})
_HTTP_UNAUTHORIZED = 401
_HTTP_SERVER_ERROR = 500
_HTTP_TOO_MANY = 429
_GONE_CODES = frozenset({"NOT_FOUND", "ENTITY_IS_DELETED"})
# Codes by which Salesforce refuses the value of the fields an error names: the rest of the
# record can be written without them. REQUIRED_FIELD_MISSING counts only when the field was sent
# (emptied); the caller checks that every named field is one it sent.
_VALUE_REFUSALS = frozenset(
    {
        "INVALID_EMAIL_ADDRESS",
        "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        "STRING_TOO_LONG",
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "REQUIRED_FIELD_MISSING",
        "NUMBER_OUTSIDE_VALID_RANGE",
        "INVALID_TYPE_ON_FIELD_IN_RECORD",
        "FIELD_INTEGRITY_EXCEPTION",
    }
)


@dataclass(frozen=True)
class SalesforceFault:
    """The first item of a Salesforce error array: its code, message and fields."""

    code: str
    message: str
    fields: tuple[str, ...] = ()


def parse_error_body(body: Any) -> SalesforceFault:  # noqa: ANN401 - decoded JSON from the wire
    """Return the first error item of ``body``, whatever shape Salesforce used."""
    item: Any = (
        body[0] if isinstance(body, Sequence) and body and not isinstance(body, str) else body
    )
    if isinstance(item, Mapping):
        code = str(item.get("errorCode") or item.get("statusCode") or item.get("error") or "")
        message = str(item.get("message") or item.get("error_description") or "")
        fields = item.get("fields") or ()
        return SalesforceFault(code or "UNKNOWN", message, tuple(str(f) for f in fields))
    return SalesforceFault("UNKNOWN", str(body)[:200])


def refused_fields(fault: SalesforceFault) -> tuple[str, ...]:
    """Return the fields whose value ``fault`` refuses; none when it is not about a value."""
    return fault.fields if fault.code in _VALUE_REFUSALS else ()


def is_daily_limit(fault: SalesforceFault) -> bool:
    """Say whether a REQUEST_LIMIT_EXCEEDED is the daily allocation, not the concurrency cap."""
    return fault.code == "REQUEST_LIMIT_EXCEEDED" and "concurrent" not in fault.message.lower()


def classify(
    status: int,
    fault: SalesforceFault,
    *,
    retry_after: float | None = None,
    what: str = "",
) -> FreshforceError:
    """Map one failed answer onto the error class that says what to do next."""
    message = f"Salesforce {what} failed: HTTP {status} {fault.code}: {fault.message}".replace(
        "  ", " "
    )
    context: dict[str, Any] = {"system": SYSTEM, "remote_code": fault.code, "http_status": status}
    if fault.code == "REQUEST_LIMIT_EXCEEDED":
        # The same code covers too many concurrent long calls: that one clears in seconds.
        floor = LIMIT_RETRY_SECONDS if is_daily_limit(fault) else _SERVER_RETRY_SECONDS
        wait = max(retry_after or 0.0, floor)
        return TransientError(message, retry_after=wait, **context)
    if status == _HTTP_UNAUTHORIZED or fault.code in _AUTH_CODES:
        return AuthError(message + "; reconnect with `freshforce connect salesforce`", **context)
    if fault.code in _GONE_CODES:
        return RecordGoneError(message, **context)
    if fault.code in _TRANSIENT_CODES or status >= _HTTP_SERVER_ERROR or status == _HTTP_TOO_MANY:
        wait = retry_after if retry_after is not None else _SERVER_RETRY_SECONDS
        return TransientError(message, retry_after=wait, **context)
    return PermanentError(message, **context)


def map_salesforce_error(response: httpx.Response) -> FreshforceError | None:
    """Return the error a Salesforce answer means, or None for a success."""
    if response.is_success:
        return None
    try:
        body = response.json()
    except ValueError:
        body = response.text
    retry_after = retry_after_seconds(response.headers.get("retry-after"))
    what = f"{response.request.method} {response.request.url.path}"
    return classify(
        response.status_code, parse_error_body(body), retry_after=retry_after, what=what
    )
