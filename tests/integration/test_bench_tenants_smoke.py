"""bench/tenants.py in a reduced run: three pairs, every change synced, nothing crossed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parents[2] / "bench" / "tenants.py"


def test_the_tenants_bench_runs_reduced() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--pairs", "3", "--rate", "3", "--seconds", "4", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["sandboxes"] == "multi"  # one sandbox of each kind serves every pair
    assert report["changes"] == report["synced"] > 0
    assert (report["foreign_records"], report["missing_records"]) == (0, 0)
    assert report["lag_p99_s"] >= report["lag_p50_s"] > 0
