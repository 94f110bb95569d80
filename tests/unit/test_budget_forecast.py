"""The API budget forecast: pace, the calls of 24 hours at that pace, when the budget runs out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from freshforce.web.budget import BudgetHistory, forecast

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_a_pace_that_lasts_past_the_24_hour_mark() -> None:
    found = forecast(1_100, 15_000, T0 + timedelta(minutes=30), (T0, 1_000))
    assert found == {
        "per_hour": 200.0,
        "projected_24h": 4_800,
        "runs_out_in_hours": 69.5,
        "fits": True,
    }


def test_a_pace_that_runs_out_before_the_mark() -> None:
    found = forecast(10_000, 15_000, T0 + timedelta(hours=1), (T0, 9_000))
    assert found["per_hour"] == 1_000.0
    assert found["projected_24h"] == 24_000
    assert found["runs_out_in_hours"] == 5.0
    assert found["fits"] is False


def test_no_forecast_without_an_earlier_sample_and_none_needed_when_idle() -> None:
    assert forecast(10, 100, T0, None)["per_hour"] is None
    assert forecast(10, 100, T0, (T0, 10))["per_hour"] is None  # same moment: no pace
    idle = forecast(10, 100, T0 + timedelta(minutes=5), (T0, 10))
    assert idle["per_hour"] == 0.0
    assert idle["fits"] is True
    assert idle["runs_out_in_hours"] is None


def test_history_keeps_samples_of_the_last_hour_only() -> None:
    history = BudgetHistory()
    history.add("org", T0, 5)
    history.add("org", T0, 6)  # the same figures' time again: not a new sample
    history.add("org", T0 + timedelta(minutes=50), 50)
    assert history.oldest_within("org", T0 + timedelta(minutes=59)) == (T0, 5)
    later = T0 + timedelta(minutes=61)
    assert history.oldest_within("org", later) == (T0 + timedelta(minutes=50), 50)
    assert history.oldest_within("other", later) is None
