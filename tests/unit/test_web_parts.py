from datetime import UTC, datetime, timedelta

import pytest

import freshforce.web
from freshforce.web.login import safe_next
from freshforce.web.ratelimit import LoginLimiter
from freshforce.web.sessions import SessionSigner
from freshforce.web.views import when


def test_web_exports() -> None:
    assert freshforce.web.__all__ == ["create_app"]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/dead-letters?flow=x", "/dead-letters?flow=x"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("", "/"),
    ],
)
def test_safe_next_stays_on_this_site(target: str, expected: str) -> None:
    assert safe_next(target) == expected


def test_when_reads_as_utc() -> None:
    assert when("2026-01-01T13:00:00.123+01:00") == "2026-01-01 12:00:00 UTC"
    assert when(None) == ""


def test_session_signer_never_shows_its_key_and_refuses_other_keys() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    signer = SessionSigner(b"secret-key-material-32-bytes-long!")
    assert "secret" not in repr(signer)
    cookie, session = signer.issue(username="ana", password_hash="$argon2id$x", now=now)
    assert signer.read(cookie, now=now) == session
    assert SessionSigner(b"another key" * 4).read(cookie, now=now) is None
    assert signer.read("not.a-cookie", now=now) is None
    assert signer.read(cookie, now=now + timedelta(hours=13)) is None
    assert signer.read(cookie, now=now - timedelta(seconds=30)) == session  # a slower clock
    assert signer.read(cookie, now=now - timedelta(minutes=5)) is None
    assert signer.csrf_ok(session, signer.csrf_token(session))
    assert not signer.csrf_ok(session, "x")


def test_limiter_counts_each_key_in_its_window() -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    limiter = LoginLimiter(clock=lambda: now[0], max_failures=2, window=timedelta(seconds=60))
    limiter.failed("user:a", "ip:1")
    assert limiter.retry_after("user:a") is None
    limiter.failed("user:a", "ip:2")
    assert limiter.retry_after("user:a") == 60.0
    assert limiter.retry_after("user:b", "ip:1") is None
    now[0] += timedelta(seconds=30)
    assert limiter.retry_after("user:b", "user:a") == 30.0
    limiter.succeeded("user:a")
    assert limiter.retry_after("user:a") is None
    now[0] += timedelta(seconds=61)
    assert limiter.retry_after("ip:1", "ip:2", "user:b") is None
    assert len(limiter) == 0  # quiet keys are forgotten
