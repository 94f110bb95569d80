"""bench/e2e.py in a reduced run: the four paths and a small first sync complete and report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parents[2] / "bench" / "e2e.py"


def test_the_end_to_end_bench_runs_reduced() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--changes", "3", "--records", "20", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert [row["changes"] for row in report["latency"]] == [3, 3, 3, 3]
    paths = [row["path"] for row in report["latency"]]
    assert paths[2:] == ["won deal (poll) → invoice", "payment webhook → Opportunity"]
    assert all(row["sf_calls_per_change"] > 0 for row in report["latency"])
    sync = report["first_sync"]
    assert (sync["linked"], sync["created"]) == (10, 20)  # half the businesses on both sides
