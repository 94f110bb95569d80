"""Truncated and garbage change events: a clear error naming the event, never another exception."""

from __future__ import annotations

import json

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freshforce.connectors.salesforce.cdc_decode import UndecodableEventError, decode_event
from freshforce.sandbox.salesforce.avro import (
    CdcEntity,
    CdcField,
    change_event_schema,
    encode_change,
)
from freshforce.sandbox.salesforce.changes import ChangeRecord

ACCOUNT = CdcEntity(
    "Account",
    (
        CdcField("Name", "string"),
        CdcField("NumberOfEmployees", "int"),
        CdcField("AnnualRevenue", "double"),
        CdcField("LastModifiedDate", "datetime"),
    ),
)
SCHEMA = change_event_schema(ACCOUNT)
RAW = json.loads(SCHEMA.schema_json)  # what GetSchema returns, parsed as the subscriber does
PARSED = fastavro.parse_schema(RAW)
FIELDS = list(RAW["fields"])
REPLAY = b"\x00\x00\x00\x00\x00\x00\x01\x2a"
GOOD = encode_change(
    SCHEMA,
    ChangeRecord(
        replay_id=298,
        entity_name="Account",
        change_type="UPDATE",
        record_ids=("001000000000001AAA",),
        change_origin="com/salesforce/api/rest/59.0",
        transaction_key="0001-tx",
        sequence_number=1,
        commit_timestamp_ms=1_700_000_000_000,
        commit_number=42,
        commit_user="005000000000001AAA",
        fields={"Name": "Acme", "NumberOfEmployees": 12},
    ),
)


def test_the_good_event_decodes() -> None:
    event = decode_event(GOOD, REPLAY, PARSED, FIELDS)
    assert (event.entity, event.values["Name"]) == ("Account", "Acme")


@pytest.mark.parametrize("cut", [0, 1, 5, len(GOOD) // 2, len(GOOD) - 1])
def test_a_truncated_event_names_its_replay_id(cut: int) -> None:
    with pytest.raises(UndecodableEventError, match=r"replay id AAAAAAAAASo=.*does not decode"):
        decode_event(GOOD[:cut], REPLAY, PARSED, FIELDS)


def test_bytes_left_over_are_refused() -> None:
    with pytest.raises(UndecodableEventError, match="bytes left over"):
        decode_event(GOOD + b"\x00\x00", REPLAY, PARSED, FIELDS)


@settings(max_examples=300, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=200),
        st.builds(lambda at: GOOD[:at], st.integers(0, len(GOOD) - 1)),
        st.builds(
            lambda at, junk: GOOD[:at] + junk + GOOD[at + len(junk) :],
            st.integers(0, len(GOOD)),
            st.binary(min_size=1, max_size=6),
        ),
    )
)
def test_garbage_decodes_or_raises_the_clear_error(data: bytes) -> None:
    failure: UndecodableEventError | None = None
    try:
        event = decode_event(data, REPLAY, PARSED, FIELDS)
    except UndecodableEventError as exc:
        failure = exc
    if failure is not None:
        assert "AAAAAAAAASo=" in str(failure)  # the event's replay id, to find it by
    else:
        assert isinstance(event.entity, str)
