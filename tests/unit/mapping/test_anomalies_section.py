"""The ``anomalies:`` section of a flow file: thresholds per flow map, errors at file:line."""

from __future__ import annotations

from pathlib import Path

from mapping_support import flow_map, problems_of

from freshforce.assist.baseline import RULES, Thresholds, thresholds_of
from freshforce.assist.breaker import UpdateBurst, burst_of
from freshforce.mapping.anomalies_schema import RULE_NAMES, AnomaliesModel

FIELDS = "- {freshbooks: organization, salesforce: Account.Name}\n"


def test_the_defaults_are_the_guard_s_fixed_values(tmp_path: Path) -> None:
    found = flow_map(tmp_path, FIELDS)
    assert found.anomalies == AnomaliesModel()
    assert thresholds_of(found.anomalies) == Thresholds()
    assert set(RULE_NAMES) == set(RULES)  # every rule documented by name, and only those


def test_a_section_sets_the_thresholds(tmp_path: Path) -> None:
    extra = """\
        anomalies:
          z_hold: 8
          z_flag: 4.5
          max_ratio: 20
          delete_burst: {min: 50, percent: 5, window_minutes: 30}
          disable: [unseen_value, same_day_duplicate]
        """
    t = thresholds_of(flow_map(tmp_path, FIELDS, extra=extra).anomalies)
    assert (t.hold_z, t.flag_z, t.max_ratio) == (8, 4.5, 20)
    assert (t.burst_deletes, t.burst_share, t.burst_minutes) == (50, 0.05, 30)
    assert t.disabled == {"unseen_value", "same_day_duplicate"}
    assert not t.on("unseen_value")
    assert t.on("z_hold")


def test_wrong_values_are_named_at_their_line(tmp_path: Path) -> None:
    extra = """\
        anomalies:
          z_hold: 30
          delete_burst: {min: 0}
          disable: [unseen_values]
          zhold: 7
        """
    found = sorted((p.line, p.path, p.message) for p in problems_of(tmp_path, FIELDS, extra=extra))
    assert [(line, path) for line, path, _ in found] == [
        (5, "anomalies.delete_burst.min"),
        (6, "anomalies.disable[0]"),
        (7, "anomalies.zhold"),
    ]
    messages = [m for _, _, m in found]
    assert "greater than or equal to 1" in messages[0]
    assert "(did you mean 'unseen_value'?)" in messages[1]
    assert "unknown key 'zhold' (did you mean 'z_hold'?)" in messages[2]


def test_a_flag_threshold_above_the_hold_one_is_named(tmp_path: Path) -> None:
    extra = "anomalies:\n  z_hold: 3\n"
    [problem] = problems_of(tmp_path, FIELDS, extra=extra)
    assert (problem.line, problem.path) == (4, "anomalies")  # the section's first key
    assert "z_flag (3.5) must be below z_hold (3)" in problem.message
    assert str(problem).startswith(f"{tmp_path / 'clients.yaml'}:4:")


def test_the_update_breaker_reads_its_thresholds(tmp_path: Path) -> None:
    assert burst_of(flow_map(tmp_path, FIELDS).anomalies) == UpdateBurst()
    extra = """\
        anomalies:
          update_burst: {factor: 20, window_minutes: 30, min_updates: 500}
        """
    found = burst_of(flow_map(tmp_path, FIELDS, extra=extra).anomalies)
    assert found == UpdateBurst(factor=20, window_minutes=30, min_updates=500)
    off = burst_of(
        flow_map(tmp_path, FIELDS, extra="anomalies:\n  disable: [update_burst]\n").anomalies
    )
    assert not off.enabled


def test_wrong_update_burst_values_are_named_at_their_line(tmp_path: Path) -> None:
    extra = """\
        anomalies:
          update_burst:
            factor: 1
            min_update: 5
        """
    found = sorted((p.line, p.path, p.message) for p in problems_of(tmp_path, FIELDS, extra=extra))
    assert [(line, path) for line, path, _ in found] == [
        (5, "anomalies.update_burst.factor"),
        (6, "anomalies.update_burst.min_update"),
    ]
    assert "greater than 1" in found[0][2]
    assert "(did you mean 'min_updates'?)" in found[1][2]
