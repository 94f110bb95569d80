"""bench/scale.py in a tiny run: worker processes on PostgreSQL sync every job right."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parents[2] / "bench" / "scale.py"
POSTGRES = os.environ.get(
    "FRESHFORCE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def test_the_scale_bench_runs_tiny() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--jobs", "6", "--workers", "1", "2", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "SCALE_POSTGRES_URL": POSTGRES},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert [r["workers"] for r in report["rounds"]] == [1, 2]
    for row in report["rounds"]:
        assert row["accounts_right"] == row["jobs"] == 6  # every Account shows its new phone
        assert row["jobs_per_second"] > 0
