"""The queue benchmark, reduced: it runs, every distinct key runs once, nothing runs twice."""

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "jobqueue.py"


def test_reduced_benchmark_drains_every_job_exactly_once(tmp_path) -> None:
    command = [sys.executable, str(BENCH), "--jobs", "300", "--workers", "2", "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout)["results"]
    assert [(r["backend"], r["workers"]) for r in results] == [("sqlite", 2), ("postgres", 2)]
    for row in results:
        assert row["enqueued"] == 300
        assert row["distinct"] == 270  # 10% of the enqueues repeat a key and coalesce
        assert row["done"] == row["distinct"]
        assert row["runs"] == row["done"]
        assert row["duplicates"] == 0
