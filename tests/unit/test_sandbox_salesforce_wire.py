from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from freshforce.sandbox.salesforce.wire import (
    format_date,
    format_datetime,
    parse_date,
    parse_datetime,
)

WIRE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")
moments = st.datetimes(
    min_value=datetime(1970, 1, 2),  # noqa: DTZ001 - hypothesis takes naive bounds
    max_value=datetime(2200, 1, 1),  # noqa: DTZ001 - same
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
    ),
)


@given(moments)
def test_datetimes_go_out_in_utc_with_milliseconds_and_come_back(moment):
    wire = format_datetime(moment)
    assert WIRE.match(wire)
    back = parse_datetime(wire)
    assert back.tzinfo is not None
    assert abs(back - moment) < timedelta(milliseconds=1)
    assert format_datetime(back) == wire


@given(moments)
def test_every_accepted_offset_spelling_means_the_same_instant(moment):
    whole = moment.replace(microsecond=0)
    iso = whole.isoformat()
    spellings = {
        iso,
        iso.replace("+00:00", "Z"),
        re.sub(r"([+-]\d{2}):(\d{2})$", r"\1\2", iso),
        format_datetime(whole),
    }
    assert {parse_datetime(s) for s in spellings} == {whole.astimezone(UTC)}


@given(st.dates())
def test_dates_round_trip(day):
    assert parse_date(format_date(day)) == day


@pytest.mark.parametrize("bad", ["", "2024-13-01", "yesterday", "2024-01-01T25:00:00Z"])
def test_bad_datetimes_are_refused(bad):
    with pytest.raises(ValueError, match=r"."):
        parse_datetime(bad)
