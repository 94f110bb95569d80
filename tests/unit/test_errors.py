from freshforce.errors import AmbiguousWriteError, FreshforceError, TransientError


def test_transient_error_keeps_retry_hint_and_context() -> None:
    err = AmbiguousWriteError(
        "write lost",
        retry_after=2.5,
        flow="invoices",
        record_key="sf/Opportunity/1",
        http_status=504,
    )
    assert isinstance(err, TransientError)
    assert isinstance(err, FreshforceError)
    assert err.retry_after == 2.5
    assert err.context()["error_class"] == "AmbiguousWriteError"
    assert err.context()["http_status"] == 504
    assert err.context()["record_key"] == "sf/Opportunity/1"
