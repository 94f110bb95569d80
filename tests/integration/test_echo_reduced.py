"""bench/echo.py in a reduced, seeded run: alternating edits on both sides cause no echo writes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parents[2] / "bench" / "echo.py"


def test_alternating_edits_write_nothing_beyond_their_propagation() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--seed", "3", "--edits", "60", "--records", "10", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["echoes"] == {}, report
    assert report["wrong"] == {}, report
    assert done.returncode == 0
    assert report["freshbooks_writes"] > 0  # the Salesforce edits did propagate...
    assert report["salesforce_writes"] > 0  # ...and so did the FreshBooks ones
