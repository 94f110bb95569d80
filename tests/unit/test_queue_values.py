from datetime import UTC, datetime

import pytest

import freshforce.engine
from freshforce.engine.flow import JobFlow, Outcome, Result, as_flow
from freshforce.engine.queue import Job, JobStatus, QueueConfig, payload_hints
from freshforce.engine.worker import WorkerConfig
from freshforce.store.queue import MAX_HINTS, merge_hints

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_merge_hints_unions_in_order_without_duplicates() -> None:
    old = ["a", {"event": 1, "op": "u"}]
    new = [{"op": "u", "event": 1}, "b", "a"]
    assert merge_hints(old, new) == ["a", {"event": 1, "op": "u"}, "b"]


def test_merge_hints_keeps_the_newest_when_too_many() -> None:
    merged = merge_hints([f"h{i}" for i in range(MAX_HINTS)], ["new"])
    assert len(merged) == MAX_HINTS
    assert merged[-1] == "new"
    assert "h0" not in merged


def test_payload_hints_accepts_strings_and_objects() -> None:
    assert payload_hints({"hints": ["x", {"y": 1}]}) == ["x", {"y": 1}]
    assert payload_hints({}) == []


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ([], "payload: expected an object"),
        ({"hints": "x"}, "payload.hints: expected a list"),
        ({"hints": ["ok", 3]}, r"payload.hints\[1\]: expected a string or an object, got int"),
        ({"hints": [], "flow": "x"}, "unknown key"),
    ],
)
def test_payload_hints_names_what_is_wrong(payload, where) -> None:
    with pytest.raises(ValueError, match=where):
        payload_hints(payload)


def test_configs_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="lease_seconds"):
        QueueConfig(lease_seconds=0)
    with pytest.raises(ValueError, match="max_attempts"):
        QueueConfig(max_attempts=0)
    with pytest.raises(ValueError, match="concurrency"):
        WorkerConfig(concurrency=0)


def test_engine_exports() -> None:
    assert freshforce.engine.__all__ == [
        "OPEN",
        "Bury",
        "Clock",
        "Decision",
        "Effect",
        "Flow",
        "FlowContext",
        "FlowGate",
        "Job",
        "JobFlow",
        "JobHandler",
        "JobQueue",
        "JobRequest",
        "JobStatus",
        "Outcome",
        "QueueConfig",
        "QueueMetrics",
        "Result",
        "Retry",
        "RetryPolicy",
        "Worker",
        "WorkerConfig",
    ]


def test_outcomes_carry_an_error_exactly_when_failing() -> None:
    job = Job(
        id=1, tenant="t", flow="f", key="k", status=JobStatus.RUNNING, priority=0, hints=(),
        attempt=1, max_attempts=3, run_at=NOW, not_before=None, locked_by="w",
        lease_expires_at=NOW, last_error=None, created_at=NOW, updated_at=NOW,
    )  # fmt: skip
    assert Outcome.done(job).result is Result.DONE
    assert Outcome.retry(job, ValueError("x")).error is not None
    with pytest.raises(ValueError, match="needs an error exactly when failing"):
        Outcome(1, Result.FAIL)
    with pytest.raises(ValueError, match="needs an error exactly when failing"):
        Outcome(1, Result.DONE, error=ValueError("x"))


def test_a_flow_registered_under_another_name_is_refused() -> None:
    async def handler(_job, _ctx) -> None:
        return None

    flow = JobFlow("clients", handler=handler)
    assert as_flow("clients", flow) is flow
    with pytest.raises(ValueError, match="registered as 'invoices' is named 'clients'"):
        as_flow("invoices", flow)
