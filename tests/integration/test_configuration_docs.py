"""docs/configuration.md is the truth: each documented variable takes effect where it should."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from cryptography.fernet import Fernet
from typer.testing import CliRunner

from freshforce.cli import app
from freshforce.commands import store as store_command
from freshforce.commands.context import cli_context
from freshforce.runtime import Runtime
from freshforce.settings import ENV_PREFIX, Profile, Settings, load_settings

DOC = Path(__file__).parents[2] / "docs" / "configuration.md"
KEY_A, KEY_B = Fernet.generate_key().decode(), Fernet.generate_key().decode()
_ROW = re.compile(r"^\|\s*`([^`]+)`[^|]*\|(.*)$")
_ENV = re.compile(rf"`({ENV_PREFIX}[A-Z0-9_]+)`")


def secret(value: Any) -> Any:
    return value.get_secret_value()


# The value each variable is set to, and how the built setting reads back.
SAMPLES: dict[str, tuple[str, Callable[[Any], Any], Any]] = {
    "profile": ("qa", lambda v: v, Profile.QA),
    "data_dir": ("/srv/ff-data", str, "/srv/ff-data"),
    "config_dir": ("/srv/ff-maps", str, "/srv/ff-maps"),
    "database_url": ("sqlite:///{tmp}/doc.db", lambda v: v, "sqlite:///{tmp}/doc.db"),
    "auto_migrate": ("false", lambda v: v, False),
    "encryption_keys": (f"{KEY_A},{KEY_B}", lambda v: [secret(k) for k in v], [KEY_A, KEY_B]),
    "log_level": ("WARNING", lambda v: v, "warning"),
    "log_json": ("true", lambda v: v, True),
    "worker_concurrency": ("7", lambda v: v, 7),
    "worker_batch_size": ("9", lambda v: v, 9),
    "worker_poll_interval": ("0.5", lambda v: v, 0.5),
    "worker_shutdown_timeout": ("3", lambda v: v, 3.0),
    "worker_handlers": ("pkg.mod:factory", lambda v: v, "pkg.mod:factory"),
    "worker_metrics_port": ("9105", lambda v: v, 9105),
    "job_lease_seconds": ("12.5", lambda v: v, 12.5),
    "job_max_attempts": ("4", lambda v: v, 4),
    "freshbooks_client_id": ("fb-app", lambda v: v, "fb-app"),
    "freshbooks_client_secret": ("fb-secret", secret, "fb-secret"),
    "freshbooks_redirect_uri": ("http://127.0.0.1:9/cb", lambda v: v, "http://127.0.0.1:9/cb"),
    "freshbooks_api_url": ("http://fb.example", lambda v: v, "http://fb.example"),
    "freshbooks_auth_url": ("http://auth.example", lambda v: v, "http://auth.example"),
    "salesforce_client_id": ("sf-app", lambda v: v, "sf-app"),
    "salesforce_client_secret": ("sf-secret", secret, "sf-secret"),
    "salesforce_redirect_uri": ("http://localhost:9/cb", lambda v: v, "http://localhost:9/cb"),
    "salesforce_login_url": ("https://test.salesforce.com", lambda v: v, "https://test.salesforce.com"),
    "salesforce_pubsub_host": ("pubsub.example:443", lambda v: v, "pubsub.example:443"),
    "salesforce_pubsub_tls": ("false", lambda v: v, False),
    "http_timeout_seconds": ("12", lambda v: v, 12.0),
    "poll_interval_seconds": ("7.5", lambda v: v, 7.5),
    "cdc": ("false", lambda v: v, False),
    "stream_lease_seconds": ("15", lambda v: v, 15.0),
    "platform_event_channels": ("/event/A__e,/event/B__e", lambda v: v, ["/event/A__e", "/event/B__e"]),  # noqa: E501 - one sample a line
    "platform_event_publish": ("invoices,errors", lambda v: v, ["invoices", "errors"]),
    "reconcile_interval_seconds": ("120", lambda v: v, 120.0),
    "config_reload_seconds": ("2.5", lambda v: v, 2.5),
    "web_host": ("0.0.0.0", lambda v: v, "0.0.0.0"),  # noqa: S104 - a sample value, not a bind
    "web_port": ("8123", lambda v: v, 8123),
    "web_session_key": ("k" * 40, secret, "k" * 40),
    "public_url": ("https://sync.example/", lambda v: v, "https://sync.example"),
    "alerts_file": ("/srv/ff/alerts.yaml", str, "/srv/ff/alerts.yaml"),
    "alert_interval_seconds": ("15", lambda v: v, 15.0),
    "alert_slack_webhook_url": ("https://hooks.example/T/B/x", secret, "https://hooks.example/T/B/x"),
    "alert_smtp_host": ("smtp.example", lambda v: v, "smtp.example"),
    "alert_smtp_port": ("465", lambda v: v, 465),
    "alert_smtp_security": ("tls", lambda v: v, "tls"),
    "alert_smtp_username": ("ff", lambda v: v, "ff"),
    "alert_smtp_password": ("pw", secret, "pw"),
    "alert_smtp_from": ("ff@example.com", lambda v: v, "ff@example.com"),
    "alert_smtp_to": ("a@x.example,b@x.example", lambda v: v, ["a@x.example", "b@x.example"]),
}  # fmt: skip


def documented_settings() -> dict[str, str]:
    """The settings table: setting name → the environment variable documented for it."""
    text = DOC.read_text(encoding="utf-8").split("## Settings", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in text.splitlines():
        found = _ROW.match(line)
        if found and not found.group(1).startswith("-") and found.group(1) in Settings.model_fields:
            env = _ENV.search(found.group(2))
            assert env, line
            rows[found.group(1)] = env.group(1)
    return rows


def documented_flags() -> list[tuple[str, str]]:
    """Every (option, environment variable) row of the document's option tables."""
    rows = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        found = _ROW.match(line)
        if found and found.group(1).startswith("--"):
            env = _ENV.search(found.group(2))
            assert env, line
            rows.append((found.group(1).split("/")[0].split()[0], env.group(1)))
    return rows


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


def test_every_setting_is_documented_once_with_its_env_name() -> None:
    rows = documented_settings()
    assert set(rows) == set(Settings.model_fields)
    assert set(SAMPLES) == set(Settings.model_fields)  # a new setting needs a sample here
    for key, env in rows.items():
        assert env == f"{ENV_PREFIX}{key.upper()}"


@pytest.mark.parametrize("key", sorted(documented_settings()))
def test_each_documented_variable_takes_effect(
    key: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    raw, read, expected = SAMPLES[key]
    raw = raw.format(tmp=tmp_path)
    expected = expected.format(tmp=tmp_path) if isinstance(expected, str) else expected
    if key == "profile":
        monkeypatch.setenv(f"{ENV_PREFIX}ENCRYPTION_KEYS", KEY_A)
    assert read(getattr(load_settings(), key)) != expected  # the sample is not the default
    monkeypatch.setenv(documented_settings()[key], raw)
    assert read(getattr(load_settings(), key)) == expected


async def test_the_runtime_is_built_from_those_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for key, (raw, _, _) in SAMPLES.items():
        if key not in {"auto_migrate", "profile"}:
            monkeypatch.setenv(f"{ENV_PREFIX}{key.upper()}", raw.format(tmp=tmp_path))
    async with await Runtime.open(load_settings()) as runtime:
        assert runtime.queue_config.lease_seconds == 12.5
        assert runtime.queue_config.max_attempts == 4
        worker = runtime.worker_config
        assert (worker.concurrency, worker.batch_size) == (7, 9)
        assert (worker.poll_interval, worker.shutdown_timeout) == (0.5, 3.0)
        assert runtime.engine.url.database == str(tmp_path / "doc.db")
        written_with_b = Fernet(KEY_B.encode()).encrypt(b"token").decode()
        assert runtime.cipher.decrypt(written_with_b) == "token"  # every key decrypts
        source = runtime.token_source("fb", "freshbooks")
        assert source._provider.client_id == "fb-app"
        assert source._provider.token_url == "http://fb.example/auth/oauth/token"


def _params(command: Any) -> list[Any]:
    found = list(command.params)
    for sub in getattr(command, "commands", {}).values():
        found += _params(sub)
    return found


@pytest.mark.parametrize(("flag", "env"), documented_flags())
def test_each_documented_flag_reads_its_variable(flag: str, env: str) -> None:
    params = [p for p in _params(typer.main.get_command(app)) if flag in p.opts]
    assert params, f"no command has {flag}"
    for param in params:
        assert param.envvar == env, (flag, param.envvar)


def test_worker_flags_override_their_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Settings] = []

    def capture(ctx: typer.Context, work: object, **overrides: object) -> None:
        del work
        seen.append(cli_context(ctx).settings_with(**overrides))

    # The worker imports run_with_runtime when it runs, so the store module's one is what it calls.
    monkeypatch.setattr(store_command, "run_with_runtime", capture)
    monkeypatch.setenv(f"{ENV_PREFIX}JOB_LEASE_SECONDS", "40")
    monkeypatch.setenv(f"{ENV_PREFIX}WORKER_CONCURRENCY", "5")
    flags = ["--lease-seconds", "9", "--batch-size", "3", "--max-attempts", "2"]
    result = CliRunner().invoke(app, ["worker", *flags])
    assert result.exit_code == 0, result.output
    [settings] = seen
    assert settings.job_lease_seconds == 9.0  # the flag beats the environment
    assert settings.worker_concurrency == 5  # the environment still counts without a flag
    assert (settings.worker_batch_size, settings.job_max_attempts) == (3, 2)
