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
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "payment_status=paid" in done.stdout
    assert "IsWon=True" in done.stdout
    assert "Not built yet" in done.stdout
    engine = sa.create_engine(f"sqlite:///{database}")
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    engine.dispose()
    assert {"jobs", "connections", "links", "alembic_version"} <= tables
