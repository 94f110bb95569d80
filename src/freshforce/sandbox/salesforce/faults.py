"""Salesforce's own error bodies for the shared fault rules (``sandbox.core.faults``)."""

from __future__ import annotations

from freshforce.sandbox.core import FaultResponse, FaultRule
from freshforce.sandbox.salesforce.errors import (
    ErrorItem,
    SalesforceError,
    invalid_session,
    request_limit_exceeded,
    unable_to_lock_row,
)

__all__ = ["SalesforceFaults"]

_LOCK_STATUSES = frozenset({400, 500})
_UNAVAILABLE = 503


def _body(error: SalesforceError) -> list[dict[str, object]]:
    return error.body()


class SalesforceFaults:
    """Renders fired fault rules the way Salesforce answers.

    ``error`` with status 400 or 500 is UNABLE_TO_LOCK_ROW (the transient lock error), 503 is
    SERVER_UNAVAILABLE and other statuses UNKNOWN_EXCEPTION; ``rate_limit`` and
    ``limit_exhausted`` are 403 REQUEST_LIMIT_EXCEEDED (Salesforce has no 429 on REST);
    ``expired_token`` is 401 INVALID_SESSION_ID; ``invalid_value`` is a top-level 400
    FIELD_INTEGRITY_EXCEPTION naming ``field``.
    """

    def render_fault(self, rule: FaultRule, path: str) -> FaultResponse:  # noqa: PLR0911 - one return per kind
        del path  # every Salesforce endpoint answers faults the same way
        if rule.kind == "invalid_value":
            name = rule.field or "Name"
            item = ErrorItem("FIELD_INTEGRITY_EXCEPTION", f"{name}: invalid value", (name,))
            return FaultResponse(rule.status or 400, _body(SalesforceError(400, item)))
        if rule.kind == "expired_token":
            return FaultResponse(401, _body(invalid_session()))
        if rule.kind == "limit_exhausted":
            return FaultResponse(403, _body(request_limit_exceeded()))
        if rule.kind == "rate_limit":
            concurrent = SalesforceError(
                403,
                ErrorItem("REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded."),
            )
            return FaultResponse(403, _body(concurrent), (("Retry-After", str(rule.retry_after)),))
        status = rule.status or _UNAVAILABLE
        if status in _LOCK_STATUSES:
            return FaultResponse(status, _body(unable_to_lock_row(status)))
        if status == _UNAVAILABLE:
            item = ErrorItem("SERVER_UNAVAILABLE", "Server temporarily unavailable, try again.")
            return FaultResponse(status, _body(SalesforceError(status, item)))
        item = ErrorItem(
            "UNKNOWN_EXCEPTION",
            "An unexpected error occurred. Please include this ErrorId if you contact support: "
            "0000000000-0000 (0000000000)",
        )
        return FaultResponse(status, _body(SalesforceError(status, item)))
