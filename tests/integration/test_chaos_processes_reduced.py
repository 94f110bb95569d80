"""bench/chaos.py --backend postgresql in a reduced, seeded run: processes killed, nothing lost.

Two `freshforce worker` processes and a `freshforce listen` process on a fresh PostgreSQL
database against the sandboxes on real sockets; a worker is SIGKILLed, every backend of the
database is cut once, the CDC stream drops; then every flow must have converged.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parents[2] / "bench" / "chaos.py"


@pytest.mark.slow
def test_killed_worker_processes_and_a_cut_database_lose_nothing() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--backend",
            "postgresql",
            "--seed",
            "3",
            "--changes",
            "40",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.stdout.strip(), done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["wrong"] == {}, report
    assert done.returncode == 0
    assert report["worker_kills"] >= 1
    assert report["db_cuts"] == 1
    assert report["backends_cut"] > 0
    assert report["won_deals"] > 0
    assert report["clients_edited"] > 0
