import json
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from freshforce.cli import app

BROKEN = Path(__file__).parents[1] / "unit" / "mapping" / "broken"
pytestmark = pytest.mark.usefixtures("restore_logging")


@pytest.fixture
def invoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for name in [n for n in os.environ if n.startswith("FRESHFORCE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def run(*args: str, **env: str):
        return runner.invoke(app, list(args), env=env, catch_exceptions=False)

    return run


def test_init_writes_commented_copies_into_the_config_dir(invoke, tmp_path: Path) -> None:
    result = invoke("config", "init")
    assert result.exit_code == 0, result.output
    written = sorted(path.name for path in (tmp_path / "freshforce").iterdir())
    assert written == ["clients.yaml", "invoices.yaml", "payments.yaml", "values.yaml"]
    assert (
        "# Organisation <-> Account name." in (tmp_path / "freshforce" / "clients.yaml").read_text()
    )
    again = invoke("config", "init")
    assert again.exit_code == 1
    assert "already there; use --force" in again.stderr
    assert invoke("config", "init", "--force").exit_code == 0
    elsewhere = invoke("config", "init", "maps", FRESHFORCE_CONFIG_DIR="ignored")
    assert elsewhere.exit_code == 0
    assert (tmp_path / "maps" / "values.yaml").exists()


def test_validate_accepts_the_defaults_and_names_the_config_dir(invoke, tmp_path: Path) -> None:
    invoke("config", "init", "custom")
    result = invoke("config", "validate", "--json", FRESHFORCE_CONFIG_DIR=str(tmp_path / "custom"))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["valid"] is True
    assert report["problems"] == []
    assert report["flows"]["clients"]["source"] == str(tmp_path / "custom" / "clients.yaml")
    assert len(report["flows"]["payments"]["content_hash"]) == 64
    text = invoke("config", "validate", "custom")
    assert text.exit_code == 0
    assert "ok clients:" in text.stdout


def test_validate_exits_2_with_every_problem(invoke, tmp_path: Path) -> None:
    shutil.copytree(BROKEN / "bad_named_value", tmp_path / "bad")
    result = invoke("config", "validate", "bad")
    assert result.exit_code == 2
    assert (
        "bad/clients.yaml:8:14 fields[0].default: unknown named value $acount_type" in result.stdout
    )
    assert "3 problems" in result.stdout
    as_json = invoke("config", "validate", "bad", "--json")
    assert as_json.exit_code == 2
    problems = json.loads(as_json.stdout)["problems"]
    assert [(Path(p["file"]).name, p["line"], p["column"]) for p in problems] == [
        ("clients.yaml", 8, 14),
        ("clients.yaml", 11, 23),
        ("values.yaml", 5, 5),
    ]


def test_validate_checks_every_profile(invoke, tmp_path: Path) -> None:
    maps = tmp_path / "maps"
    maps.mkdir()
    (maps / "values.yaml").write_text("profiles:\n  prod:\n    payment_status: Paid\n")
    result = invoke("config", "validate", "maps", "--json")
    assert result.exit_code == 2
    problems = json.loads(result.stdout)["problems"]
    assert [(p["path"], p["message"]) for p in problems] == [
        (
            "fields[1].transform[0].map",
            (
                "map: Input should be a valid dictionary "
                "(named value $payment_status, maps/values.yaml:3) (profile prod)"
            ),
        )
    ]
    assert problems[0]["file"].endswith("payments.yaml")


def test_a_profile_of_any_name_overrides_values_and_is_checked(invoke, tmp_path: Path) -> None:
    from freshforce.mapping import load_maps  # noqa: PLC0415 - the CLI test imports lazily too

    maps = tmp_path / "maps"
    maps.mkdir()
    (maps / "values.yaml").write_text(
        "profiles:\n  staging:\n    account_type: Partner\n  uat:\n    payment_status: Paid\n"
    )
    assert load_maps(maps, profile="staging").values["account_type"] == "Partner"
    assert load_maps(maps, profile="dev").values["account_type"] == "Customer"
    result = invoke("config", "validate", "maps", "--json")
    assert result.exit_code == 2
    messages = [p["message"] for p in json.loads(result.stdout)["problems"]]
    assert len(messages) == 1
    assert messages[0].endswith("(profile uat)")
