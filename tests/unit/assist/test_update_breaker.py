"""The update breaker's judgement: a window's writes against the usual of this hour of day."""

from __future__ import annotations

from freshforce.assist.breaker import UpdateBurst, burst_finding

BURST = UpdateBurst()  # factor 10, 15 minutes, at least 100


def test_a_window_over_ten_times_the_usual_is_a_burst() -> None:
    usual = [80, 90, 100, 0, 110, 120, 95]  # median 95 an hour: 23.75 in 15 minutes
    assert burst_finding("clients", 237, usual, BURST) is None
    found = burst_finding("clients", 238, usual, BURST)
    assert found == (
        "a burst of writes: 238 records written on clients in the last 15 minutes, over the "
        "limit of 237.5 (10x the usual 95 an hour at this time of day, median of 7 days); "
        "the flow is paused until resumed"
    )


def test_a_quiet_hour_still_needs_min_updates() -> None:
    assert burst_finding("invoices", 100, [0] * 7, BURST) is None
    assert burst_finding("invoices", 101, [0] * 7, BURST) is not None
    assert burst_finding("invoices", 30, [0] * 7, UpdateBurst(min_updates=20)) is not None


def test_the_factor_and_window_are_the_flow_map_s() -> None:
    wide = UpdateBurst(factor=20, window_minutes=60, min_updates=1)
    assert burst_finding("payments", 200, [10] * 7, wide) is None
    assert burst_finding("payments", 201, [10] * 7, wide) is not None
