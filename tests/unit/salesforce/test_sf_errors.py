import pytest

from freshforce.connectors.salesforce.errors import (
    LIMIT_RETRY_SECONDS,
    SalesforceFault,
    classify,
    parse_error_body,
)
from freshforce.errors import AuthError, PermanentError, TransientError


def test_parses_rest_collection_and_oauth_shapes() -> None:
    rest = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    assert parse_error_body(rest).code == "INVALID_SESSION_ID"
    coll = [{"statusCode": "DUPLICATE_VALUE", "message": "dup", "fields": ["X__c"]}]
    assert parse_error_body(coll) == SalesforceFault("DUPLICATE_VALUE", "dup", ("X__c",))
    oauth = {"error": "invalid_grant", "error_description": "expired access/refresh token"}
    assert parse_error_body(oauth).code == "invalid_grant"
    assert parse_error_body("<html>").code == "UNKNOWN"


def test_request_limit_exceeded_is_transient_with_a_long_wait_never_auth() -> None:
    error = classify(403, SalesforceFault("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit"))
    assert type(error) is TransientError
    assert error.retry_after == LIMIT_RETRY_SECONDS
    assert error.http_status == 403
    assert error.remote_code == "REQUEST_LIMIT_EXCEEDED"


def test_insufficient_access_is_permanent() -> None:
    error = classify(403, SalesforceFault("INSUFFICIENT_ACCESS", "no"))
    assert type(error) is PermanentError


def test_invalid_session_is_auth() -> None:
    assert type(classify(401, SalesforceFault("INVALID_SESSION_ID", "x"))) is AuthError


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "UNABLE_TO_LOCK_ROW"), (500, "UNABLE_TO_LOCK_ROW"), (503, "SERVER_UNAVAILABLE")],
)
def test_lock_and_server_errors_are_transient(status: int, code: str) -> None:
    error = classify(status, SalesforceFault(code, "x"), retry_after=7)
    assert type(error) is TransientError
    assert error.retry_after == 7


def test_validation_errors_are_permanent_and_say_what() -> None:
    error = classify(
        400,
        SalesforceFault("REQUIRED_FIELD_MISSING", "Required fields are missing: [Name]"),
        what="create Account",
    )
    assert type(error) is PermanentError
    assert "create Account" in str(error)
    assert "REQUIRED_FIELD_MISSING" in str(error)


def test_the_concurrent_request_limit_is_a_short_wait() -> None:
    fault = SalesforceFault("REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.")
    error = classify(403, fault, retry_after=2)
    assert type(error) is TransientError
    assert error.retry_after == 5.0
