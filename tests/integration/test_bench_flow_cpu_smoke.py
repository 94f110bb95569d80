"""bench/flow_cpu.py, reduced: it syncs every change and counts what each one costs."""

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "flow_cpu.py"


def test_a_reduced_run_reports_cpu_statements_and_requests_per_change() -> None:
    command = [sys.executable, str(BENCH), "--changes", "4", "--warm", "1", "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert (report["changes"], report["database"]) == (4, "sqlite")
    assert report["freshforce_cpu_ms_per_change"] > 0
    assert report["sandbox_cpu_ms_per_change"] > 0
    assert report["sql_statements_per_change"] > 0
    # A new client: read it from FreshBooks, two candidate queries, the Account, the Contact.
    assert report["freshbooks_requests_per_change"] == 1.0
    assert report["salesforce_requests_per_change"] == 4.0
