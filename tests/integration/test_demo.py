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
        [sys.executable, "-m", "freshforce.cli", "demo", "--check", "--dir", str(tmp_path / "d")],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "with its Contact Ada Lovelace in Salesforce" in done.stdout
    assert "the FreshBooks client's city is Marylebone" in done.stdout
    assert "in FreshBooks with 3 lines" in done.stdout
    assert "the deal shows Partially Paid: paid 800" in done.stdout
    assert "the deal shows Paid: paid 1800" in done.stdout
    assert not (tmp_path / "demo.db").exists()  # never in the installation's data directory
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'd' / 'demo.db'}")
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
