"""``freshforce config apply / history / diff / rollback`` through the CLI, on both stores."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from freshforce.cli import app

from .conftest import set_value

pytestmark = pytest.mark.usefixtures("restore_logging")


@pytest.fixture
def invoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str):
    for name in [n for n in os.environ if n.startswith("FRESHFORCE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def run(*args: str):
        env = {"FRESHFORCE_DATABASE_URL": database_url, "FRESHFORCE_AUTHOR": "ana"}
        return runner.invoke(app, list(args), env=env, catch_exceptions=False)

    return run


def test_apply_history_diff_rollback(invoke, maps_dir: Path) -> None:
    first = invoke("config", "apply", "--dir", str(maps_dir), "-m", "first")
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("applied dev v1 (")
    set_value(maps_dir, "account_type", "Partner")
    pending = invoke("config", "diff", "active", "dir", "--dir", str(maps_dir))
    assert pending.stdout.strip() == "values: changed account_type: Customer -> Partner"
    assert invoke("config", "apply", "--dir", str(maps_dir), "-m", "partners").exit_code == 0
    same = invoke("config", "apply", "--dir", str(maps_dir), "-m", "again")
    assert "unchanged: already active as dev v2" in same.stdout
    back = invoke("config", "rollback", "1")
    assert back.stdout.startswith("applied dev v3 (")
    history = json.loads(invoke("config", "history", "--json").stdout)
    assert [(v["version"], v["active"], v["author"], v["message"]) for v in history] == [
        (3, True, "ana", "rollback to v1"),
        (2, False, "ana", "partners"),
        (1, False, "ana", "first"),
    ]
    changes = json.loads(invoke("config", "diff", "2", "3", "--json").stdout)
    assert changes == [
        {"area": "values", "item": "account_type", "kind": "changed",
         "detail": "Partner -> Customer"}
    ]  # fmt: skip
    assert "no difference between 1 and 3" in invoke("config", "diff", "1", "3").stdout
    missing = invoke("config", "rollback", "9")
    assert missing.exit_code == 2
    assert "profile dev has no configuration version 9" in missing.stderr


def test_apply_refuses_a_bad_directory_with_file_and_line(invoke, maps_dir: Path) -> None:
    text = (
        (maps_dir / "clients.yaml")
        .read_text()
        .replace("transform: [trim, lower]", "transform: [trim, lowr]")
    )
    (maps_dir / "clients.yaml").write_text(text)
    result = invoke("config", "apply", "--dir", str(maps_dir), "-m", "typo")
    assert result.exit_code == 2
    assert "clients.yaml:" in result.stderr
    assert "did you mean 'lower'" in result.stderr
    assert "nothing applied" in result.stderr
    assert "no configuration version in dev yet" in invoke("config", "history").stdout


def test_promote_and_validate_env_say_what_is_missing(invoke, tmp_path: Path) -> None:
    settings = tmp_path / "ff.toml"
    settings.write_text(
        f"[qa]\ndatabase_url = 'sqlite:///{tmp_path}/qa.db'\n\n"
        f"[staging]\ndatabase_url = 'sqlite:///{tmp_path}/staging.db'\n"
    )
    same = invoke("--config", str(settings), "promote", "--from", "qa", "--to", "qa")
    assert same.exit_code == 2
    assert "--from and --to name the same environment" in same.stderr
    empty = invoke("--config", str(settings), "promote", "--from", "qa", "--to", "staging")
    assert empty.exit_code == 2
    assert "no configuration version in qa: run `freshforce --profile qa config apply`" in (
        empty.stderr
    )
    unknown = invoke("--config", str(settings), "promote", "--from", "qa", "--to", "prdo")
    assert unknown.exit_code == 2
    assert "'prdo' is not a profile" in unknown.stderr
    unconnected = invoke("--config", str(settings), "config", "validate", "--env", "staging")
    assert unconnected.exit_code == 2
    assert "environment staging: tenant 'default' has no freshbooks connection" in (
        unconnected.stderr
    )
    assert "(with --profile staging)" in unconnected.stderr
