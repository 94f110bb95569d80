import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from typer.testing import CliRunner

from freshforce.cli import app
from freshforce.store import migrate
from freshforce.store.connections import NewConnection, Tokens, load_connection, save_connection
from freshforce.store.crypto import TokenCipher, new_key
from freshforce.store.engine import create_engine

pytestmark = pytest.mark.usefixtures("restore_logging")


@pytest.fixture
def invoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for name in [n for n in os.environ if n.startswith("FRESHFORCE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    runner = CliRunner()

    def run(*args: str, **env: str):
        return runner.invoke(app, list(args), env=env, catch_exceptions=False)

    return run


def test_help_lists_commands_and_env_vars(invoke) -> None:
    root = invoke("--help")
    assert root.exit_code == 0
    for text in ("FRESHFORCE_PROFILE", "FRESHFORCE_CONFIG", "db", "config"):
        assert text in root.stdout
    assert "FRESHFORCE_JSON" in invoke("db", "upgrade", "--help").stdout
    assert "FRESHFORCE_JSON" in invoke("config", "show", "--help").stdout


def test_db_upgrade_and_current(invoke, database_url: str) -> None:
    env = {"FRESHFORCE_DATABASE_URL": database_url}
    before = invoke("db", "current", "--json", **env)
    assert before.exit_code == 0, before.output
    assert json.loads(before.stdout)["revision"] is None
    upgraded = invoke("db", "upgrade", "--json", **env)
    assert upgraded.exit_code == 0, upgraded.output
    assert json.loads(upgraded.stdout)["revision"] == migrate.head()
    assert invoke("db", "upgrade", **env).exit_code == 0
    after = invoke("db", "current", **env)
    assert "up to date" in after.stdout
    assert asyncio.run(migrate.current(database_url)) == migrate.head()


def test_config_show_masks_secrets(invoke, tmp_path: Path) -> None:
    key = new_key()
    config = tmp_path / "ff.toml"
    config.write_text('database_url = "postgresql+asyncpg://ff:pw-s3cret@db:5432/ff"\n')
    result = invoke(
        "--config", str(config), "config", "show", "--json", FRESHFORCE_ENCRYPTION_KEYS=key
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["encryption_keys"] == ["**********"]
    assert shown["database_url"] == "postgresql+asyncpg://ff:***@db:5432/ff"
    assert shown["profile"] == "dev"
    assert key not in result.output
    assert "pw-s3cret" not in result.output
    table = invoke("--config", str(config), "config", "show", FRESHFORCE_ENCRYPTION_KEYS=key)
    assert table.exit_code == 0
    assert "worker_concurrency" in table.stdout
    assert key not in table.output


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["--profile", "staging"], {}, "option --profile (FRESHFORCE_PROFILE): 'staging' is not"),
        ([], {"FRESHFORCE_PROFILE": "live"}, "'live' is not a profile; choose dev, qa or prod"),
        ([], {"FRESHFORCE_JOB_MAX_ATTEMPTS": "many"}, "FRESHFORCE_JOB_MAX_ATTEMPTS: Input should"),
        (["--profile", "prod"], {}, "the prod profile needs encryption keys"),
    ],
)
def test_bad_settings_exit_2_with_a_message(invoke, args, env, expected) -> None:
    result = invoke(*args, "config", "show", **env)
    assert result.exit_code == 2
    assert expected in result.stderr
    assert result.stdout == ""


def test_bad_settings_file_names_file_line_and_key(invoke, tmp_path: Path) -> None:
    config = tmp_path / "ff.yaml"
    config.write_text("log_level: info\nqa:\n  worker_concurrency: 0\n  colour: blue\n")
    result = invoke("--profile", "qa", "--config", str(config), "db", "upgrade")
    assert result.exit_code == 2
    assert f"{config}:3 [qa] worker_concurrency: Input should be greater than or equal to 1" in (
        result.stderr
    )
    assert f"{config}:4 [qa] colour: unknown setting" in result.stderr
    missing = invoke("--config", str(tmp_path / "nope.toml"), "config", "show")
    assert missing.exit_code == 2
    assert "cannot read settings file" in missing.stderr


def test_unreachable_database_exits_1(invoke) -> None:
    result = invoke("db", "upgrade", FRESHFORCE_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: cannot use the database postgresql://nobody@127.0.0.1:1/none:"
    )


def test_new_key_prints_a_fernet_key(invoke) -> None:
    result = invoke("config", "new-key")
    assert result.exit_code == 0
    Fernet(result.stdout.strip().encode())


async def _save_with_key(database_url: str, key: str) -> None:
    await migrate.upgrade(database_url)
    engine = create_engine(database_url)
    tokens = Tokens(SecretStr("at"), SecretStr("rt"), None)
    try:
        async with engine.begin() as db:
            cipher = TokenCipher([SecretStr(key)])
            new = NewConnection("sf", "salesforce", tokens)
            await save_connection(db, cipher, new, now=datetime(2026, 1, 1, tzinfo=UTC))
    finally:
        await engine.dispose()


async def _refresh_token_with_key(database_url: str, key: str) -> SecretStr | None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as db:
            loaded = await load_connection(db, TokenCipher([SecretStr(key)]), "sf")
    finally:
        await engine.dispose()
    assert loaded is not None
    return loaded.tokens.refresh_token


def test_rotate_keys_reencrypts_stored_tokens(invoke, database_url: str) -> None:
    # CLI commands run their own event loop, so this test is synchronous.
    old, new = new_key(), new_key()
    asyncio.run(_save_with_key(database_url, old))
    result = invoke(
        "db",
        "rotate-keys",
        "--json",
        FRESHFORCE_DATABASE_URL=database_url,
        FRESHFORCE_ENCRYPTION_KEYS=f"{new},{old}",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"rotated": 1}
    assert asyncio.run(_refresh_token_with_key(database_url, new)) == SecretStr("rt")


def test_console_script_exits_2_on_bad_profile(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("freshforce")
    env = {"PATH": os.environ["PATH"], "XDG_DATA_HOME": str(tmp_path)}
    done = subprocess.run(
        [str(script), "--profile", "staging", "config", "show"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "option --profile (FRESHFORCE_PROFILE): 'staging' is not a profile" in done.stderr
    assert done.stdout == ""
