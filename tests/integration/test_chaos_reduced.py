"""bench/chaos.py in a reduced, seeded run: every flow converges under faults, nothing is lost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parents[2] / "bench" / "chaos.py"


@pytest.mark.parametrize("seed", [11, 12])
def test_the_chaos_drill_converges_with_nothing_lost(seed: int) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--seed", str(seed), "--changes", "60", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["wrong"] == {}, report
    assert done.returncode == 0
    assert report["won_deals"] > 0
    assert report["clients_edited"] > 0
    assert report["calls"]["fb-main"] > 0
