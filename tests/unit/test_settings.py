import os
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from freshforce.errors import ConfigError
from freshforce.settings import Profile, Settings, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("FRESHFORCE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_put_sqlite_and_a_dev_key_under_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings()
    data_dir = tmp_path / "xdg" / "freshforce"
    assert settings.profile == Profile.DEV
    assert settings.data_dir == data_dir
    assert settings.database_url == f"sqlite+aiosqlite:///{data_dir / 'freshforce.db'}"
    assert settings.json_logs is False
    key_file = data_dir / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [k.get_secret_value() for k in settings.encryption_keys] == [key_file.read_text()]
    assert load_settings().encryption_keys == settings.encryption_keys  # reused, not regenerated


def test_file_profile_section_env_and_overrides_stack_in_that_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(
        tmp_path / "ff.toml",
        f"""
data_dir = "{tmp_path}/data"
worker_concurrency = 2
job_max_attempts = 3

[qa]
worker_concurrency = 8
database_url = "postgresql+asyncpg://u@db/qa"
""",
    )
    monkeypatch.setenv("FRESHFORCE_JOB_MAX_ATTEMPTS", "5")
    settings = load_settings("qa", config, job_lease_seconds=12)
    assert settings.profile == Profile.QA
    assert settings.worker_concurrency == 8
    assert settings.job_max_attempts == 5
    assert settings.job_lease_seconds == 12
    assert settings.database_url == "postgresql+asyncpg://u@db/qa"
    assert settings.json_logs is True
    dev = load_settings("dev", config)
    assert dev.worker_concurrency == 2
    assert dev.database_url.startswith(f"sqlite+aiosqlite:///{tmp_path}/data/")


def test_yaml_file_and_profile_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = Fernet.generate_key().decode()
    config = write(
        tmp_path / "ff.yaml",
        f"data_dir: {tmp_path}\nprod:\n  encryption_keys: [{key}]\n  log_level: WARNING\n",
    )
    monkeypatch.setenv("FRESHFORCE_PROFILE", "prod")
    settings = load_settings(None, config)
    assert settings.profile == Profile.PROD
    assert settings.log_level == "warning"
    assert [k.get_secret_value() for k in settings.encryption_keys] == [key]
    assert not (tmp_path / "secret.key").exists()


def test_env_keys_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = [Fernet.generate_key().decode() for _ in range(2)]
    monkeypatch.setenv("FRESHFORCE_ENCRYPTION_KEYS", ",".join(keys))
    settings = load_settings()
    assert [k.get_secret_value() for k in settings.encryption_keys] == keys


def test_every_error_names_its_file_line_and_key_at_once(tmp_path: Path) -> None:
    config = write(
        tmp_path / "ff.toml",
        'worker_concurency = 3\nlog_level = "loud"\n\n[prod]\njob_lease_seconds = "soon"\n',
    )
    with pytest.raises(ConfigError) as caught:
        load_settings("prod", config)
    message = str(caught.value)
    assert "invalid settings (4 errors)" in message
    assert (
        f"{config}:1 worker_concurency: unknown setting (did you mean 'worker_concurrency'?)"
        in message
    )
    assert f"{config}:2 log_level: Input should be" in message
    assert f"{config}:5 [prod] job_lease_seconds: Input should be a valid number" in message
    needs_keys = "the prod profile needs encryption keys"
    assert f"setting encryption_keys (FRESHFORCE_ENCRYPTION_KEYS): {needs_keys}" in message


def test_yaml_errors_name_the_line_in_the_profile_section(tmp_path: Path) -> None:
    config = write(tmp_path / "ff.yml", "log_json: true\nqa:\n  log_json: maybe\n  nope: 1\n")
    with pytest.raises(ConfigError) as caught:
        load_settings("qa", config)
    message = str(caught.value)
    assert f"{config}:3 [qa] log_json: Input should be a valid boolean" in message
    assert f"{config}:4 [qa] nope: unknown setting" in message


def test_bad_profile_names_where_it_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(
        ConfigError,
        match=r"option --profile \(FRESHFORCE_PROFILE\): 'staging' is not a profile; "
        r"choose dev, qa or prod",
    ):
        load_settings("staging")
    monkeypatch.setenv("FRESHFORCE_PROFILE", "live")
    with pytest.raises(ConfigError, match="environment FRESHFORCE_PROFILE: 'live' is not a"):
        load_settings()


def test_wrong_type_in_env_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRESHFORCE_WORKER_CONCURRENCY", "lots")
    with pytest.raises(
        ConfigError, match="environment FRESHFORCE_WORKER_CONCURRENCY: Input should"
    ):
        load_settings()


def test_bad_key_and_url_are_rejected_without_echoing_the_secret(tmp_path: Path) -> None:
    config = write(
        tmp_path / "ff.toml",
        'encryption_keys = ["hunter2-not-a-key"]\ndatabase_url = "mysql://x/y"\n',
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(None, config)
    message = str(caught.value)
    assert f"{config}:1 encryption_keys: key #0 is not a Fernet key" in message
    assert f"{config}:2 database_url: must start with sqlite://" in message
    assert "hunter2" not in message


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("ff.toml", "a = [", "invalid TOML"),
        ("ff.yaml", "a: [", "invalid YAML"),
        ("ff.yaml", "- 1\n- 2\n", "top level must be a table"),
        ("ff.toml", "prod = 3\n", ":1 prod: a profile section must be a table"),
        ("ff.ini", "a=1", "unknown settings file type"),
    ],
)
def test_unreadable_files_are_config_errors(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    config = write(tmp_path / name, text)
    with pytest.raises(ConfigError, match=expected) as caught:
        load_settings(None, config)
    assert str(config) in str(caught.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read settings file"):
        load_settings(None, tmp_path / "absent.toml")


def test_settings_reads_env_directly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRESHFORCE_AUTO_MIGRATE", "false")
    assert Settings().auto_migrate is False


def test_dev_key_problems_are_config_errors(tmp_path: Path) -> None:
    blocker = write(tmp_path / "a-file", "")
    with pytest.raises(ConfigError, match="cannot create or read the dev encryption key"):
        load_settings(data_dir=blocker / "data")
    write(tmp_path / "secret.key", "not a key\n")
    with pytest.raises(ConfigError, match=r"secret.key: not a Fernet key; delete it"):
        load_settings(data_dir=tmp_path)


def test_sections_of_other_profiles_are_checked_too(tmp_path: Path) -> None:
    config = write(
        tmp_path / "ff.toml",
        "log_level = 'info'\n\n[qa]\nworker_concurrency = 2\n\n[prod]\njob_lease_secs = 5\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings("dev", config)
    message = str(caught.value)
    assert (
        f"{config}:7 [prod] job_lease_secs: unknown setting (did you mean 'job_lease_seconds'?)"
    ) in message
    assert "(1 error)" in message  # the valid [qa] section and the common keys pass


def test_any_section_is_a_profile_of_that_name(tmp_path: Path) -> None:
    config = write(
        tmp_path / "ff.toml",
        f"data_dir = '{tmp_path}'\n\n[staging]\ndatabase_url = 'sqlite:///staging.db'\n",
    )
    staging = load_settings("staging", config)
    assert staging.profile == "staging"
    assert staging.database_url == f"sqlite:///{tmp_path / 'staging.db'}"
    assert staging.json_logs is True
    with pytest.raises(ConfigError) as caught:
        load_settings("stagin", config)
    assert (
        "option --profile (FRESHFORCE_PROFILE): 'stagin' is not a profile; choose dev, qa or "
        f"prod, or add a [stagin] section to the settings file of {config} "
        "(did you mean 'staging'?)"
    ) in str(caught.value)


def test_a_section_name_that_cannot_be_a_profile_names_its_line(tmp_path: Path) -> None:
    config = write(tmp_path / "ff.toml", "log_level = 'info'\n\n[Production]\nlog_json = true\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(None, config)
    assert f"{config}:3 [Production]: a profile name is lower-case" in str(caught.value)


def test_the_dev_section_applies_when_no_profile_is_chosen(tmp_path: Path) -> None:
    config = write(tmp_path / "ff.toml", "log_level = 'info'\n\n[dev]\nlog_level = 'debug'\n")
    assert load_settings(None, config).log_level == "debug"
    assert load_settings("qa", config).log_level == "info"


def test_stream_lease_defaults_to_60_seconds_and_refuses_what_is_out_of_bounds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().stream_lease_seconds == 60.0
    monkeypatch.setenv("FRESHFORCE_STREAM_LEASE_SECONDS", "15")
    assert load_settings().stream_lease_seconds == 15.0
    for bad in ("2", "86400"):
        monkeypatch.setenv("FRESHFORCE_STREAM_LEASE_SECONDS", bad)
        with pytest.raises(ConfigError) as caught:
            load_settings()
        assert (
            "environment FRESHFORCE_STREAM_LEASE_SECONDS: must be within 5..3600 seconds "
            f"(the lease on each stream, renewed every third of it), got {bad}"
        ) in str(caught.value)
