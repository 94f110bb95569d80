"""bench/tenants.py in a reduced run: three pairs, every change synced, nothing crossed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from db_support import POSTGRES_ADMIN_URL

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


@pytest.mark.slow
def test_the_tenants_bench_runs_reduced_with_every_part_in_its_own_process() -> None:
    done = subprocess.run(
        [
            *(sys.executable, str(BENCH), "--layout", "processes", "--pairs", "3"),
            *("--rate", "3", "--seconds", "4", "--json", "--database-url", POSTGRES_ADMIN_URL),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["layout"] == "processes"
    assert report["changes"] == report["synced"] > 0
    assert (report["foreign_records"], report["missing_records"]) == (0, 0)
    assert report["lag_p99_s"] >= report["lag_p50_s"] >= 0
    # each process sampled on its own: the sandboxes, the listener, the worker, the driver
    assert set(report["processes"]) == {"driver", "sandbox", "listen", "worker0"}
    assert all(p["rss_mb_max"] > 0 for p in report["processes"].values())
