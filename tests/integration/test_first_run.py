"""What a new user meets first: clear one-line errors, whole help text, honest command output."""

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from freshforce.cli import app
from freshforce.commands.context import CliContext, run
from freshforce.commands.worker import MAX_CONCURRENCY
from freshforce.demo import run_demo
from freshforce.sandbox.launch import SandboxSettings
from freshforce.settings import Settings, load_settings
from freshforce.store import migrate

pytestmark = pytest.mark.usefixtures("restore_logging")

FRESHFORCE = str(Path(sys.executable).with_name("freshforce"))


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in [n for n in os.environ if n.startswith("FRESHFORCE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    return {"PATH": os.environ["PATH"], "XDG_DATA_HOME": str(tmp_path / "xdg")}


@pytest.fixture
def invoke(clean_env: dict[str, str]):
    runner = CliRunner()

    def run_cli(*args: str, **env: str):
        return runner.invoke(app, list(args), env=env, catch_exceptions=False)

    return run_cli


def console_script(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FRESHFORCE, *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 that something else already listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


# -- errors that name what is wrong, where, and what to do ---------------------------------------


@pytest.mark.parametrize("flag", ["--freshbooks-port", "--salesforce-port", "--pubsub-port"])
def test_sandbox_port_in_use_is_one_line_naming_port_and_flag(
    clean_env: dict[str, str], busy_port: int, flag: str
) -> None:
    ports = {"--freshbooks-port": "0", "--salesforce-port": "0", "--pubsub-port": "0"}
    ports[flag] = str(busy_port)
    done = console_script("sandbox", *[x for kv in ports.items() for x in kv], env=clean_env)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: cannot listen on 127.0.0.1:{busy_port} (")
    assert f"stop the program using port {busy_port}, or choose another with {flag}" in lines[0]
    assert done.stdout == ""


def test_demo_port_clash_is_not_called_a_database_problem(
    clean_env: dict[str, str], tmp_path: Path, busy_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    cli = CliContext(profile=None, config_file=None, _settings=settings)
    sandbox = SandboxSettings(freshbooks_port=0, salesforce_port=busy_port, pubsub_port=0)
    with pytest.raises(typer.Exit) as stopped:
        run(
            cli,
            lambda: run_demo(
                settings, sandbox, print, keep_running=False, folder=tmp_path / "demo"
            ),
            database_url=settings.database_url,
        )
    assert stopped.value.exit_code == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{busy_port}" in err
    assert "freshforce demo --check" in err
    assert "database" not in err
    assert not (tmp_path / "data" / "freshforce.db").exists()  # the store was not touched
    assert not list((tmp_path / "demo").glob("*.db"))  # nor was the demo's own


def test_an_os_error_outside_the_store_is_not_labelled_database(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cli = CliContext(profile=None, config_file=None)

    async def work() -> None:
        raise FileNotFoundError(2, "No such file or directory", "/nowhere/x.json")

    with pytest.raises(typer.Exit) as stopped:
        run(cli, work)
    assert stopped.value.exit_code == 1
    err = capsys.readouterr().err
    assert "/nowhere/x.json" in err
    assert "database" not in err


def test_unknown_database_host_names_the_url_with_the_password_masked(invoke) -> None:
    url = "postgresql+asyncpg://ff:s3cret-pw@no-such-host.invalid/ff"
    result = invoke("db", "upgrade", FRESHFORCE_DATABASE_URL=url)
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: cannot use the database postgresql+asyncpg://ff:***@no-such-host.invalid/ff: "
    )
    assert "check database_url (FRESHFORCE_DATABASE_URL" in result.stderr
    assert "s3cret-pw" not in result.output
    assert "Traceback" not in result.output


def test_a_relative_sqlite_path_lives_under_data_dir(
    invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data_dir = tmp_path / "state"
    env = {"FRESHFORCE_DATA_DIR": str(data_dir), "FRESHFORCE_DATABASE_URL": "sqlite:///dbs/x.db"}
    result = invoke("db", "upgrade", **env)
    assert result.exit_code == 0, result.output
    assert (data_dir / "dbs" / "x.db").exists()
    assert not (tmp_path / "dbs").exists()
    shown = json.loads(invoke("config", "show", "--json", **env).stdout)
    assert shown["database_url"] == f"sqlite:///{data_dir / 'dbs' / 'x.db'}"


def test_a_failed_start_leaves_no_database_file_behind(invoke, tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    result = invoke(
        "jobs",
        "list",
        FRESHFORCE_DATABASE_URL=f"sqlite+aiosqlite:///{db}",
        FRESHFORCE_AUTO_MIGRATE="false",
    )
    assert result.exit_code == 2
    assert "run `freshforce db upgrade`" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("fresh")) == []


# -- settings ----------------------------------------------------------------------------------


def test_a_typo_in_a_freshforce_variable_is_named_with_a_suggestion(invoke) -> None:
    result = invoke("config", "show", "--json", FRESHFORCE_WORKER_CONCURENCY="8")
    assert result.exit_code == 0
    assert (
        "warning: environment variable FRESHFORCE_WORKER_CONCURENCY is ignored "
        "(did you mean FRESHFORCE_WORKER_CONCURRENCY?)"
    ) in result.stderr
    assert json.loads(result.stdout)["worker_concurrency"] == 4
    quiet = invoke("config", "show", "--json", FRESHFORCE_SANDBOX_SEED="7", FRESHFORCE_JSON="1")
    assert "warning" not in quiet.stderr  # option env vars are known names too


def test_worker_concurrency_has_one_range_on_the_flag_and_in_settings(invoke) -> None:
    field = Settings.model_fields["worker_concurrency"]
    assert any(getattr(m, "le", None) == MAX_CONCURRENCY for m in field.metadata)
    flag = invoke("worker", "--concurrency", str(MAX_CONCURRENCY + 1))
    assert flag.exit_code == 2
    assert "--concurrency" in flag.output
    assert "less than or equal to 256" in flag.output


# -- command-line polish -----------------------------------------------------------------------


def test_worker_help_shows_no_subcommand_placeholder(invoke) -> None:
    result = invoke("worker", "--help")
    assert result.exit_code == 0
    assert "Usage: freshforce worker [OPTIONS]" in result.stdout
    assert "COMMAND" not in result.stdout


def test_db_upgrade_says_what_it_did(invoke, database_url: str) -> None:
    env = {"FRESHFORCE_DATABASE_URL": database_url}
    first = invoke("db", "upgrade", **env)
    assert first.exit_code == 0, first.output
    head = migrate.head()
    assert f"migrated from revision none (empty) to {head} (newest)" in first.stdout
    again = invoke("db", "upgrade", **env)
    assert f"is already at revision {head} (newest)" in again.stdout
    report = json.loads(invoke("db", "upgrade", "--json", **env).stdout)
    assert report["from"] == head
    assert report["migrated"] is False
    assert asyncio.run(migrate.current(database_url)) == head


def test_piped_help_keeps_every_env_var_name_whole(clean_env: dict[str, str]) -> None:
    done = console_script("sandbox", "--help", env=clean_env)
    assert done.returncode == 0
    text = " ".join(done.stdout.split())  # rich may wrap between words, never inside a name
    for name in (
        "FRESHFORCE_SANDBOX_FRESHBOOKS_PORT",
        "FRESHFORCE_SANDBOX_SALESFORCE_PORT",
        "FRESHFORCE_SANDBOX_TOKEN_LIFETIME",
        "FRESHFORCE_SANDBOX_AUTO_APPROVE",
    ):
        assert name in text
    assert "…" not in done.stdout
    for said in ("both sandboxes' state", "of both sandboxes", "Salesforce login form"):
        assert said in text  # the flags say they reach Salesforce too


def test_piped_config_show_is_not_cut_at_80_columns(
    clean_env: dict[str, str], tmp_path: Path
) -> None:
    deep = tmp_path / "a-rather-long-directory-name" / "and-another-one-below-it"
    env = {**clean_env, "FRESHFORCE_DATA_DIR": str(deep)}
    done = console_script("config", "show", env=env)
    assert done.returncode == 0, done.stderr
    assert f"sqlite+aiosqlite:///{deep / 'freshforce.db'}" in done.stdout
    assert "FRESHFORCE_SALESFORCE_CLIENT_SECRET" in done.stdout
    assert "…" not in done.stdout
