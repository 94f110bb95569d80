"""`freshforce demo --check` runs the whole scenario against real sandboxes and a real store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa


def test_demo_check_plays_the_scenario_and_migrates_the_store(tmp_path: Path) -> None:
    database = tmp_path / "demo.db"
    env = {
        **os.environ,
        "FRESHFORCE_DATA_DIR": str(tmp_path),
        "FRESHFORCE_DATABASE_URL": f"sqlite:///{database}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "freshforce.cli", "demo", "--check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "→ freshforce made Account" in done.stdout
    assert "→ freshforce made invoice" in done.stdout
    assert "→ freshforce marked the deal Paid" in done.stdout
    assert "payment_status=paid" in done.stdout
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'demo.db'}")
    with engine.connect() as conn:
        flows = dict(
            conn.execute(
                sa.text("SELECT flow, count(*) FROM jobs WHERE status = 'done' GROUP BY flow")
            ).all()
        )
        linked = conn.execute(sa.text("SELECT count(*) FROM links")).scalar_one()
    engine.dispose()
    # Everything happened through the product: jobs of all three flows ran, records linked.
    assert {"clients", "invoices", "payments"} <= set(flows)
    assert linked >= 2
