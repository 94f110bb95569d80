"""FreshBooks answers → ``freshforce.errors``: the one mapping from status and errno to next action.

- 2xx without ``response.errors``: success. A 200 *with* ``response.errors`` (gated resources,
  e.g. errno 12001) is a ``PermanentError``.
- 401: ``AuthError`` (the ``BearerAuth`` flow has already refreshed once by the time one gets here).
- 403: ``insufficient_scope`` is an ``AuthError`` (re-authorise with more scopes); other 403s
  (errno 1003, client-role writes) are ``PermanentError``.
- 404 / errno 1012: ``RecordGoneError``.
- 409 (concurrent modification, invoice number collision) and 408: ``TransientError``.
- 429 and 5xx: ``TransientError`` with the ``Retry-After`` hint.
- another 4xx whose first error refuses the value of the field it names (errno 1001, 1004, 1017,
  1018): ``RefusedValueError`` naming that field.
- any other 4xx: ``PermanentError`` with the first errno and message.
"""

from __future__ import annotations

from typing import Any

import httpx

from freshforce.connectors.core.retry import retry_after_seconds
from freshforce.errors import (
    AuthError,
    FreshforceError,
    PermanentError,
    RecordGoneError,
    RefusedValueError,
    TransientError,
)

__all__ = ["map_freshbooks_error"]

SYSTEM = "freshbooks"
_UNAUTHORIZED, _FORBIDDEN, _NOT_FOUND = 401, 403, 404
_TRANSIENT_4XX = frozenset({408, 409, 429})
_SERVER = 500
_SUCCESS = range(200, 300)
# Errnos refusing the value of the field the error names (reference §7.1): RequiredField,
# InvalidValue, MaxLengthExceeded, InvalidPercentValue.
_VALUE_ERRNOS = frozenset({"1001", "1004", "1017", "1018"})


def map_freshbooks_error(response: httpx.Response) -> FreshforceError | None:  # noqa: PLR0911 - one return per row of the table above
    """Return the error a FreshBooks answer means, or ``None`` for a success."""
    status = response.status_code
    body = _json(response)
    code, message = _first_error(body)
    if status in _SUCCESS:
        if code is None:
            return None
        return PermanentError(_text(status, code, message), **_context(status, code))
    text = _text(status, code, message)
    if status == _UNAUTHORIZED:
        return AuthError(text + "; reconnect FreshBooks", **_context(status, code))
    if status == _FORBIDDEN:
        if "insufficient_scope" in (message or ""):
            return AuthError(
                text + "; re-authorise with the scopes listed", **_context(status, code)
            )
        return PermanentError(text, **_context(status, code))
    if status == _NOT_FOUND or code == "1012":
        return RecordGoneError(text, **_context(status, code))
    if status in _TRANSIENT_4XX or status >= _SERVER:
        hint = retry_after_seconds(response.headers.get("Retry-After"))
        return TransientError(text, retry_after=hint, **_context(status, code))
    field = _refused_field(body, code)
    if field is not None:
        return RefusedValueError(text, fields=(field,), detail=message, **_context(status, code))
    return PermanentError(text, **_context(status, code))


def _refused_field(body: Any, code: str | None) -> str | None:  # noqa: ANN401 - JSON body
    """Return the field an accounting error refuses the value of, if it is that kind of error."""
    if code not in _VALUE_ERRNOS or not isinstance(body, dict):
        return None
    inner = body.get("response")
    errors = inner.get("errors") if isinstance(inner, dict) else None
    first = errors[0] if isinstance(errors, list) and errors else None
    field = first.get("field") if isinstance(first, dict) else None
    return str(field) if field else None


def _json(response: httpx.Response) -> Any:  # noqa: ANN401 - a JSON body, at the wire
    try:
        return response.json()
    except ValueError:
        return None


def _first_error(body: Any) -> tuple[str | None, str | None]:  # noqa: ANN401 - JSON body
    """Read errno and message from any of FreshBooks' three error shapes."""
    if not isinstance(body, dict):
        return None, None
    inner = body.get("response")
    if isinstance(inner, dict) and isinstance(inner.get("errors"), list) and inner["errors"]:
        first = inner["errors"][0]
        if isinstance(first, dict):
            return _str(first.get("errno")), _str(first.get("message"))
    if "error" in body:  # identity / OAuth
        return _str(body.get("error")), _str(body.get("error_description"))
    if "message" in body:  # events
        return _str(body.get("errno")), _str(body.get("message"))
    return None, None


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def _text(status: int, code: str | None, message: str | None) -> str:
    detail = message or "no error message"
    return f"FreshBooks answered {status} (errno {code or '-'}): {detail}"


def _context(status: int, code: str | None) -> dict[str, Any]:
    return {"system": SYSTEM, "remote_code": code, "http_status": status}
