from datetime import UTC, datetime, timedelta

from freshforce.intake import Cursor
from freshforce.intake.salesforce_poller import advance, parse_datetime


def test_cursor_forgets_pairs_outside_the_overlap() -> None:
    start = Cursor(datetime(2026, 1, 1, tzinfo=UTC).isoformat())
    records = [
        {"Id": "001000000000001AAA", "SystemModstamp": "2026-01-01T00:00:00.000+0000"},
        {"Id": "001000000000002AAA", "SystemModstamp": "2026-01-01T00:05:00.000+0000"},
    ]
    cursor = advance(start, records, timedelta(minutes=2))
    assert datetime.fromisoformat(cursor.position) == datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    assert cursor.seen == {("001000000000002AAA", "2026-01-01T00:05:00.000+0000")}
    assert Cursor.load(cursor.dump()) == cursor


def test_parses_salesforce_datetimes() -> None:
    assert parse_datetime("2013-05-20T20:49:32.000+0000") == datetime(
        2013, 5, 20, 20, 49, 32, tzinfo=UTC
    )
