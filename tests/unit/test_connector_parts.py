"""The connectors' pure parts: retry policy, Retry-After, FreshBooks errors, time, signatures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
from datetime import UTC, datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from freshforce.connectors.core import CallRetryPolicy, retry_after_seconds
from freshforce.connectors.freshbooks import map_freshbooks_error
from freshforce.connectors.freshbooks.signature import verify_signature
from freshforce.connectors.freshbooks.wiretime import eastern_day, from_eastern
from freshforce.connectors.oauth import TokenGrant, start_authorization
from freshforce.connectors.providers import connection_from_grant, provider_for
from freshforce.errors import (
    AuthError,
    ConfigError,
    PermanentError,
    RecordGoneError,
    TransientError,
)
from freshforce.settings import load_settings
from freshforce.store.connections import Tokens


@given(st.integers(1, 10), st.floats(0, 100), st.integers(0, 2**32))
def test_full_jitter_stays_within_the_cap(attempt: int, elapsed: float, seed: int) -> None:
    policy = CallRetryPolicy(attempts=11, base_seconds=0.5, cap_seconds=8, total_seconds=1e9,
                         rng=random.Random(seed))  # fmt: skip
    wait = policy.delay(attempt, elapsed, None)
    assert wait is not None
    assert 0 <= wait <= min(8, 0.5 * 2 ** (attempt - 1))


def test_policy_stops_on_attempts_time_and_long_retry_after() -> None:
    policy = CallRetryPolicy(attempts=3, total_seconds=10, max_retry_after=60)
    assert policy.delay(3, 0, None) is None
    assert policy.delay(1, 0, 61) is None
    assert policy.delay(1, 9.5, 1) is None
    assert policy.delay(1, 0, 5) == 5  # Retry-After is a floor


def test_retry_after_reads_seconds_and_dates() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after_seconds("3") == 3
    assert retry_after_seconds("Thu, 01 Jan 2026 00:00:30 GMT", now) == 30
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def answer(status: int, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def fb_error(errno: int, message: str) -> dict[str, object]:
    return {"response": {"errors": [{"errno": errno, "message": message}]}}


def test_freshbooks_errors_map_to_next_action() -> None:
    assert map_freshbooks_error(answer(200, {"response": {"result": {}}})) is None
    cases = [
        (answer(200, fb_error(12001, "no items")), PermanentError),
        (answer(401, {"error": "unauthenticated"}), AuthError),
        (answer(403, {"message": "insufficient_scope: more"}), AuthError),
        (answer(403, fb_error(1003, "Permission Denied")), PermanentError),
        (answer(404, fb_error(1012, "Client not found.")), RecordGoneError),
        (answer(409, fb_error(409, "Conflict")), TransientError),
        (answer(429, fb_error(429, "slow"), {"Retry-After": "7"}), TransientError),
        (answer(503, {"errno": 503, "message": "down"}), TransientError),
        (answer(422, fb_error(1004, "bad value")), PermanentError),
    ]
    for response, expected in cases:
        error = map_freshbooks_error(response)
        assert type(error) is expected, response
    rate = map_freshbooks_error(cases[6][0])
    assert isinstance(rate, TransientError)
    assert rate.retry_after == 7


def test_eastern_times_become_utc_across_dst() -> None:
    assert from_eastern("2020-11-01 13:11:10") == datetime(2020, 11, 1, 18, 11, 10, tzinfo=UTC)
    assert from_eastern("2020-07-01 13:00:00") == datetime(2020, 7, 1, 17, 0, tzinfo=UTC)
    assert eastern_day(datetime(2026, 1, 16, 3, 0, tzinfo=UTC)).isoformat() == "2026-01-15"
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        from_eastern("2020-11-01T13:11:10Z")


def test_signature_matches_the_documented_signer() -> None:
    form = {"name": "invoice.create", "object_id": "12", "account_id": "A b"}
    message = json.dumps(form).encode()
    signed = base64.b64encode(hmac.new(b"v3rif", message, hashlib.sha256).digest()).decode()
    body = httpx.QueryParams(form).__str__().encode()
    assert verify_signature("v3rif", body, signed)
    assert not verify_signature("v3rif", body + b"&x=1", signed)
    assert not verify_signature("", body, signed)


def test_missing_client_settings_are_named(tmp_path: object) -> None:
    settings = load_settings(data_dir=str(tmp_path))
    with pytest.raises(ConfigError, match="freshbooks_client_id and freshbooks_client_secret"):
        provider_for("freshbooks", settings)


async def test_salesforce_grant_gives_org_user_and_instance(tmp_path: object) -> None:
    settings = load_settings(data_dir=str(tmp_path))
    tokens = Tokens(SecretStr("a"), SecretStr("r"), None)
    extra = {
        "id": "https://login.salesforce.com/id/00D000000000001EAA/005000000000001AAA",
        "instance_url": "https://acme.my.salesforce.com",
        "scope": "api refresh_token",
    }
    new = await connection_from_grant("salesforce", "sf", TokenGrant(tokens, extra), settings)
    assert (new.remote_account, new.remote_business) == ("00D000000000001EAA", "005000000000001AAA")
    assert new.instance_url == "https://acme.my.salesforce.com"
    with pytest.raises(PermanentError, match="identity URL"):
        await connection_from_grant("salesforce", "sf", TokenGrant(tokens, {}), settings)


def test_authorize_urls_carry_state_and_pkce_where_accepted(tmp_path: object) -> None:
    settings = load_settings(
        data_dir=str(tmp_path),
        freshbooks_client_id="fb",
        freshbooks_client_secret="s",
        salesforce_client_id="sf",
        salesforce_client_secret="s",
    )
    fb = start_authorization(provider_for("freshbooks", settings))
    sf = start_authorization(provider_for("salesforce", settings))
    fb_query = httpx.URL(fb.url).params
    sf_query = httpx.URL(sf.url).params
    assert fb_query["state"] == fb.state
    assert fb_query["response_type"] == "code"
    assert "code_challenge" not in fb_query
    assert fb.code_verifier is None
    assert sf_query["code_challenge_method"] == "S256"
    assert sf.code_verifier is not None
    assert fb.state != start_authorization(provider_for("freshbooks", settings)).state
    assert "client_secret" not in fb.url


async def test_every_http_client_shares_one_verifying_tls_context() -> None:
    import ssl  # noqa: PLC0415 - only this test

    from freshforce.connectors.core.http import build_http_client  # noqa: PLC0415 - same

    def context(client: object) -> ssl.SSLContext:
        return client._transport._pool._ssl_context  # type: ignore[attr-defined]

    first = build_http_client("https://a.example")
    second = build_http_client("https://b.example")
    try:
        # one CA bundle per process, not per client (20 ms and 0.8 MB each to load)
        assert context(first) is context(second)
        assert context(first).verify_mode == ssl.CERT_REQUIRED
        assert context(first).check_hostname
    finally:
        await first.aclose()
        await second.aclose()
