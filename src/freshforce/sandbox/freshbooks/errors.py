"""FreshBooks' exact error bodies and codes, per API family, and the fault renderer built on them.

Families answer in different shapes (reference §7):

- accounting: ``{"response":{"errors":[{errno, field, message, object, value}]}}``
- identity and OAuth: ``{"error": ..., "error_description": ...}``
- events (webhook callbacks): ``{"errno": ..., "message": ..., "details": [...]}``
"""

from __future__ import annotations

from typing import Any, Literal

from freshforce.sandbox.core import FaultResponse, FaultRule

__all__ = [
    "ERRNO",
    "FreshBooksApiError",
    "FreshBooksFaultRenderer",
    "accounting_error",
    "events_error",
    "family_of",
    "oauth_error",
    "unauthorized",
]

Family = Literal["accounting", "identity", "oauth", "events"]

# errno table from https://www.freshbooks.com/api/errors (reference §7.1).
ERRNO = {
    "conflict": 409,
    "unexpected": 500,
    "required": 1001,
    "access_denied": 1003,
    "invalid_value": 1004,
    "parse": 1005,
    "deleted": 1011,
    "unknown_resource": 1012,
    "invalid_per_page": 1013,
    "invalid_page": 1014,
}
INVALID_TOKEN = "invalid_token: The request token failed to authenticate or validate."  # noqa: S105 - a message
UNAVAILABLE = 503
EVENTS_422 = "The request was well-formed but was unable to be followed due to semantic errors."


class FreshBooksApiError(Exception):
    """An error answer: the route raises it, the app's handler writes ``status`` and ``body``."""

    def __init__(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body  # JSON object in the family's shape
        self.headers = headers or {}


def accounting_error(
    status: int,
    errno: int,
    message: str,
    *,
    obj: str = "",
    field: str = "",
    value: object = "",
) -> FreshBooksApiError:
    """Build the accounting envelope error (the only shape the Python SDK parses)."""
    error = {
        "errno": errno,
        "field": field,
        "message": message,
        "object": obj,
        "value": str(value),
    }
    return FreshBooksApiError(status, {"response": {"errors": [error]}})


def oauth_error(status: int, error: str, description: str) -> FreshBooksApiError:
    """Build a Doorkeeper-style error, used by the token endpoint and identity."""
    return FreshBooksApiError(status, {"error": error, "error_description": description})


def events_error(
    status: int, errno: int, message: str, details: list[str] | None = None
) -> FreshBooksApiError:
    """Build an events (callbacks) error."""
    body: dict[str, Any] = {"errno": errno, "message": message}
    if details is not None:
        body["details"] = details
    return FreshBooksApiError(status, body)


def family_of(path: str) -> Family:
    """Name the API family a path belongs to, which decides the error shape."""
    if path.startswith("/events/"):
        return "events"
    if path.startswith(("/auth/oauth", "/oauth")):
        return "oauth"
    if path.startswith("/auth/"):
        return "identity"
    return "accounting"


def unauthorized(path: str, *, expired: bool = False, missing: bool = False) -> FreshBooksApiError:
    """Build the 401 a family answers for a missing, unknown or expired bearer token."""
    family = family_of(path)
    if family == "events":
        return events_error(401, 401, INVALID_TOKEN)
    if family in ("identity", "oauth"):
        if missing:
            return oauth_error(
                401, "unauthenticated", "This action requires authentication to continue."
            )
        reason = "The access token expired" if expired else "The access token is invalid"
        return oauth_error(401, "invalid_token", reason)
    return accounting_error(401, ERRNO["access_denied"], INVALID_TOKEN)


class FreshBooksFaultRenderer:
    """Render fault rules as FreshBooks would answer them (status, Retry-After, body)."""

    def render_fault(self, rule: FaultRule, path: str) -> FaultResponse:
        if rule.kind == "invalid_value" and family_of(path) == "accounting":
            name = rule.field or "value"
            message = f"Invalid value for {name}."
            body = accounting_error(rule.status or 400, ERRNO["invalid_value"], message, field=name)
            return FaultResponse(body.status, body.body)
        if rule.kind == "expired_token":
            error = unauthorized(path, expired=True)
            return FaultResponse(error.status, error.body)
        if rule.kind in ("rate_limit", "limit_exhausted"):
            exhausted = rule.kind == "limit_exhausted"
            message = "Daily request limit exceeded." if exhausted else "Too Many Requests"
            retry = rule.retry_after if not exhausted or rule.retry_after > 1 else 3600
            return self._shaped(429, path, message, (("Retry-After", str(retry)),))
        status = rule.status or 503
        message = "Service Unavailable" if status == UNAVAILABLE else "Server Error"
        return self._shaped(status, path, message, ())

    @staticmethod
    def _shaped(
        status: int, path: str, message: str, headers: tuple[tuple[str, str], ...]
    ) -> FaultResponse:
        family = family_of(path)
        if family == "events":
            return FaultResponse(status, {"errno": status, "message": message}, headers)
        if family in ("identity", "oauth"):
            return FaultResponse(
                status, {"error": "server_error", "error_description": message}, headers
            )
        errno = ERRNO["unexpected"] if status >= 500 else status  # noqa: PLR2004 - 5xx range
        body = accounting_error(status, errno, message).body
        return FaultResponse(status, body, headers)
