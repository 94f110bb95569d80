"""The queue benchmarks, reduced: they run, every job runs once, nothing runs twice."""

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def run_bench(*args: str) -> dict:
    command = [sys.executable, str(BENCH / args[0]), *args[1:], "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_reduced_benchmark_drains_every_job_exactly_once() -> None:
    results = run_bench("jobqueue.py", "--jobs", "300", "--workers", "2")["results"]
    assert [(r["backend"], r["workers"]) for r in results] == [("sqlite", 2), ("postgres", 2)]
    for row in results:
        assert row["enqueued"] == 300
        assert row["distinct"] == 270  # 10% of the enqueues repeat a key and coalesce
        assert row["done"] == row["distinct"]
        assert row["runs"] == row["done"]
        assert row["duplicates"] == 0


def test_repeat_keys_sets_the_share_of_enqueues_that_coalesce() -> None:
    args = ("--jobs", "200", "--workers", "1", "--backends", "postgres", "--repeat-keys", "0.5")
    [row] = run_bench("jobqueue.py", *args)["results"]
    assert (row["enqueued"], row["distinct"], row["done"], row["runs"]) == (200, 100, 100, 100)


def test_side_by_side_comparison_runs_every_installed_queue_on_the_same_jobs() -> None:
    rows = run_bench("compare_queues.py", "--jobs", "200", "--latency-jobs", "10")["rows"]
    assert [(r["queue"], r["handler"], r["backend"]) for r in rows] == [
        ("freshforce", "flow", "postgresql"),
        ("freshforce", "job", "postgresql"),
        ("freshforce", "flow", "sqlite"),
        ("pgqueuer", "job", "postgresql"),
        ("procrastinate", "job", "postgresql"),
    ]
    for row in rows:
        if row["skipped"]:  # a peer of the bench group that is not installed says so
            assert "not installed" in row["skipped"], row
            continue
        assert row["jobs"] == 200
        assert row["ran"] == 200, row
        assert row["enqueue_per_s"] > 0
        assert row["drained_per_s"] > 0
        assert row["latency_p99_ms"] > 0
        assert row["enqueue_repeated_per_s"] > 0  # the same workload with 10% repeated keys


def test_a_peer_that_is_not_installed_is_skipped_with_a_reason(tmp_path: Path) -> None:
    """With pgqueuer hidden from the interpreter, its row says why and the others still run."""
    (tmp_path / "sitecustomize.py").write_text(
        "import importlib.metadata as m\n"
        "_version = m.version\n"
        "def version(name):\n"
        "    if name == 'pgqueuer':\n"
        "        raise m.PackageNotFoundError(name)\n"
        "    return _version(name)\n"
        "m.version = version\n"
    )
    command = [
        sys.executable,
        str(BENCH / "compare_queues.py"),
        "--jobs",
        "50",
        "--latency-jobs",
        "5",
        "--queues",
        "pgqueuer,freshforce",
        "--json",
    ]
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=240, check=False, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "skipping pgqueuer: pgqueuer is not installed" in done.stderr
    rows = json.loads(done.stdout)["rows"]
    assert rows[0]["queue"] == "pgqueuer"
    assert rows[0]["skipped"] == "pgqueuer is not installed (uv sync --group bench)"
    assert [r["ran"] for r in rows[1:]] == [50, 50, 50]


def test_several_worker_processes_and_rounds_give_one_row_per_queue_and_count() -> None:
    args = ("--jobs", "200", "--latency-jobs", "5", "--workers", "1,2", "--rounds", "2")
    rows = run_bench("compare_queues.py", *args, "--queues", "freshforce,pgqueuer")["rows"]
    expected = [
        ("freshforce", "postgresql", 1),
        ("freshforce", "postgresql", 1),
        ("freshforce", "sqlite", 1),
        ("freshforce", "postgresql", 2),
        ("pgqueuer", "postgresql", 1),
        ("pgqueuer", "postgresql", 2),
    ]
    installed = [r for r in rows if not r["skipped"]]
    assert [(r["queue"], r["backend"], r["workers"]) for r in installed] == expected[
        : len(installed)
    ]
    for row in installed:
        assert row["ran"] == 200, row  # every job ran, once per round (the minimum of 2)
        assert row["drained_per_s"] > 0


def test_the_backlog_mode_measures_each_size() -> None:
    args = ("--backlog", "300,1000", "--backlog-ops", "100")
    rows = run_bench("compare_queues.py", *args)["backlog"]
    assert [r["pending"] for r in rows] == [300, 1000]
    for row in rows:
        assert row["enqueue_us"] > 0
        assert row["claim_us"] > 0
        assert row["settle_us"] > 0
