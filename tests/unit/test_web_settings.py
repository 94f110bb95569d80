import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from freshforce.errors import ConfigError
from freshforce.settings import load_settings
from freshforce.web.sessions import session_key


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("FRESHFORCE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


def test_web_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRESHFORCE_WEB_HOST", "192.0.2.1")
    monkeypatch.setenv("FRESHFORCE_WEB_PORT", "9000")
    monkeypatch.setenv("FRESHFORCE_WEB_SESSION_KEY", "k" * 32)
    settings = load_settings()
    assert (settings.web_host, settings.web_port) == ("192.0.2.1", 9000)
    assert session_key(settings) == b"k" * 32
    assert "k" * 32 not in repr(settings)


def test_a_short_session_key_is_refused_without_showing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FRESHFORCE_WEB_SESSION_KEY", "tooshort-secret")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "FRESHFORCE_WEB_SESSION_KEY" in caught.value.message
    assert "at least 32 characters" in caught.value.message
    assert "tooshort-secret" not in caught.value.message


def test_without_a_session_key_it_is_derived_from_the_encryption_key() -> None:
    settings = load_settings()
    derived = session_key(settings)
    assert derived == session_key(settings)  # stable: every dashboard derives the same
    assert len(derived) == 32
    assert settings.encryption_keys[0].get_secret_value().encode() not in derived
    assert session_key(settings.model_copy(update={"encryption_keys": []})) != derived
    assert isinstance(settings.web_session_key, SecretStr)
