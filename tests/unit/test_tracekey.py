import pytest

from freshforce.engine.tracekey import trace_query
from freshforce.store.trace import TraceQuery

ACCOUNT = "001000000000001AAA"


@pytest.mark.parametrize(
    ("key", "query"),
    [
        ("42", TraceQuery(freshbooks_id="42")),
        ("client/42", TraceQuery(freshbooks_id="42", freshbooks_object="client")),
        ("freshbooks/client/42", TraceQuery(freshbooks_id="42", freshbooks_object="client")),
        (ACCOUNT, TraceQuery(salesforce_id=ACCOUNT)),
        (ACCOUNT[:15], TraceQuery(salesforce_id=ACCOUNT)),
        (f"salesforce/Account/{ACCOUNT}", TraceQuery(salesforce_id=ACCOUNT)),
        (" Ann@Acme.com ", TraceQuery(match_key="email:ann@acme.com")),
    ],
)
def test_each_kind_of_key_is_read(key: str, query: TraceQuery) -> None:
    assert trace_query(key) == query


def test_a_flow_narrows_the_query() -> None:
    assert trace_query("42", flow="clients").flow == "clients"


@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("acme", "give a FreshBooks id"),
        ("ann@", "not an e-mail address"),
        ("001000000000001AAB", "wrong checksum"),
    ],
)
def test_a_bad_key_says_what_a_key_may_be(key: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        trace_query(key)
