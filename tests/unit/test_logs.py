import io
import json
import logging
from pathlib import Path

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from freshforce.logs import REDACTED, configure_logging, redact_secrets
from freshforce.settings import Settings

SECRETS = ["rt-secret", "at-secret", "at-secret2", "x-secret", "pw-secret"]


pytestmark = pytest.mark.usefixtures("restore_logging")


def configured(tmp_path: Path, **options: object) -> io.StringIO:
    stream = io.StringIO()
    configure_logging(Settings(data_dir=tmp_path, **options), stream=stream)
    return stream


def log_secrets() -> None:
    structlog.get_logger("freshforce.test").info(
        "token_refreshed",
        refresh_token="rt-secret",
        token_version=3,
        headers={"Authorization": "Bearer at-secret"},
        note="sent Bearer at-secret2 upstream",
        client=SecretStr("x-secret"),
        nested=[{"password": "pw-secret", "user": "ann"}],
    )


def test_json_lines_carry_bound_context_and_no_secrets(tmp_path: Path) -> None:
    stream = configured(tmp_path, log_json=True)
    structlog.contextvars.bind_contextvars(job_id=7, flow="clients")
    log_secrets()
    logging.getLogger("alembic.runtime.migration").warning("Running upgrade  -> 0001")
    text = stream.getvalue()
    for secret in SECRETS:
        assert secret not in text
    first, second = (json.loads(line) for line in text.splitlines())
    assert first["event"] == "token_refreshed"
    assert first["level"] == "info"
    assert (first["job_id"], first["flow"]) == (7, "clients")
    assert first["refresh_token"] == REDACTED
    assert first["token_version"] == 3
    assert first["headers"] == {"Authorization": REDACTED}
    assert first["note"] == f"sent Bearer {REDACTED} upstream"
    assert first["nested"] == [{"password": REDACTED, "user": "ann"}]
    assert first["timestamp"].endswith("Z")
    assert second["event"] == "Running upgrade  -> 0001"
    assert second["logger"] == "alembic.runtime.migration"
    assert second["job_id"] == 7


def test_level_filters_and_console_mode_still_redacts(tmp_path: Path) -> None:
    stream = configured(tmp_path, log_json=False, log_level="warning")
    structlog.get_logger("freshforce.test").info("hidden_event")
    structlog.get_logger("freshforce.test").warning("shown_event", password="pw-secret")
    text = stream.getvalue()
    assert "hidden_event" not in text
    assert "shown_event" in text
    assert "pw-secret" not in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[0])


def test_dev_profile_defaults_to_console_and_others_to_json(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).json_logs is False
    assert Settings(data_dir=tmp_path, profile="qa").json_logs is True


SECRET_KEYS = st.sampled_from(
    ["token", "access_token", "refresh_token", "client_secret", "password", "Authorization"]
)
PLAIN_KEYS = st.sampled_from(["user", "flow", "job_id", "token_version", "note", "status"])
MARKER = "S3CR3T-VALUE"


def _event(depth: int) -> st.SearchStrategy[object]:
    leaf = st.one_of(st.integers(), st.text(alphabet="abc xyz", max_size=5))
    if depth == 0:
        return leaf
    child = _event(depth - 1)
    return st.one_of(
        leaf,
        st.lists(child, max_size=3),
        st.dictionaries(PLAIN_KEYS, child, max_size=3),
        st.dictionaries(SECRET_KEYS, st.just(MARKER), min_size=1, max_size=2),
        st.just(SecretStr(MARKER)),
        st.just(f"Authorization: Bearer {MARKER}"),
        st.just(f"postgresql://ff:{MARKER}@db/ff"),
    )


@given(st.dictionaries(st.one_of(SECRET_KEYS, PLAIN_KEYS), _event(4), max_size=4))
def test_no_secret_survives_redaction_at_any_depth(event: dict[str, object]) -> None:
    cleaned = redact_secrets(None, "info", dict(event))
    assert MARKER not in json.dumps(cleaned, default=str)


def test_plain_values_pass_through_untouched() -> None:
    event = {"event": "job_done", "job_id": 7, "token_version": 2, "hints": [{"field": "Name"}]}
    assert redact_secrets(None, "info", dict(event)) == event
    url = {"database": "postgresql://ff:pw@db/ff", "fine": "https://example.com/a:b@c"}
    cleaned = redact_secrets(None, "info", url)
    assert cleaned["database"] == f"postgresql://ff:{REDACTED}@db/ff"
    assert cleaned["fine"] == url["fine"]
