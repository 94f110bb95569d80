"""OAuth flows against the sandbox: web server, refresh, revoke, password, userinfo, identity."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from urllib.parse import parse_qs, urlsplit

from sforg import API, Org

REDIRECT = "https://app.example/callback"


async def _login(org: Org, **extra: str) -> str:
    page = await org.http.get(
        "/services/oauth2/authorize",
        params={
            "response_type": "code",
            "client_id": org.sandbox.client_id,
            "redirect_uri": REDIRECT,
            "state": "xyz",
            **extra,
        },
    )
    assert page.status_code == 200
    assert '<form method="post"' in page.text
    hidden = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    answer = await org.http.post(
        "/services/oauth2/authorize",
        data={
            **hidden,
            "username": org.sandbox.username,
            "password": org.sandbox.password,
            "action": "approve",
        },
    )
    assert answer.status_code == 302
    location = urlsplit(answer.headers["location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    assert query["state"] == ["xyz"]
    return query["code"][0]


async def _exchange(org: Org, code: str, **extra: str) -> dict[str, str]:
    response = await org.http.post(
        "/services/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": org.sandbox.client_id,
            "client_secret": org.sandbox.client_secret,
            "redirect_uri": REDIRECT,
            **extra,
        },
    )
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


async def test_web_server_flow_issues_salesforce_shaped_tokens(org: Org):
    tokens = await _exchange(org, await _login(org))
    assert "expires_in" not in tokens
    assert tokens["token_type"] == "Bearer"
    assert tokens["instance_url"] == "https://sandbox.test"
    assert tokens["access_token"].startswith(org.sandbox.state.org_id[:15] + "!")
    assert tokens["issued_at"].isdigit()
    assert len(tokens["issued_at"]) == 13  # milliseconds
    assert tokens["id"] == (
        f"https://sandbox.test/id/{org.sandbox.state.org_id}/{org.sandbox.state.admin_user_id}"
    )
    mac = hmac.new(
        org.sandbox.client_secret.encode(),
        (tokens["id"] + tokens["issued_at"]).encode(),
        hashlib.sha256,
    )
    assert tokens["signature"] == base64.b64encode(mac.digest()).decode()
    assert tokens["refresh_token"]
    works = await org.http.get(
        f"{API}/sobjects", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert works.status_code == 200


async def test_a_code_works_once(org: Org):
    code = await _login(org)
    await _exchange(org, code)
    again = await org.http.post(
        "/services/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": org.sandbox.client_id,
            "client_secret": org.sandbox.client_secret,
            "redirect_uri": REDIRECT,
        },
    )
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


async def test_pkce_verifier_must_match_the_challenge(org: Org):
    verifier = "v" * 50
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    code = await _login(org, code_challenge=challenge.decode(), code_challenge_method="S256")
    wrong = await org.http.post(
        "/services/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": org.sandbox.client_id,
            "client_secret": org.sandbox.client_secret,
            "redirect_uri": REDIRECT,
            "code_verifier": "w" * 50,
        },
    )
    assert wrong.json()["error"] == "invalid_grant"
    code = await _login(org, code_challenge=challenge.decode(), code_challenge_method="S256")
    assert (await _exchange(org, code, code_verifier=verifier))["access_token"]


async def test_refresh_keeps_the_refresh_token_and_revoke_ends_its_sessions(org: Org):
    tokens = await _exchange(org, await _login(org))
    basic = base64.b64encode(f"{org.sandbox.client_id}:{org.sandbox.client_secret}".encode())
    refreshed = await org.http.post(
        "/services/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers={"Authorization": f"Basic {basic.decode()}"},
    )
    assert refreshed.status_code == 200
    body = refreshed.json()
    assert "refresh_token" not in body
    assert body["access_token"] != tokens["access_token"]

    revoked = await org.http.post(
        "/services/oauth2/revoke", data={"token": tokens["refresh_token"]}
    )
    assert revoked.status_code == 200
    for access in (tokens["access_token"], body["access_token"]):
        dead = await org.http.get(f"{API}/sobjects", headers={"Authorization": f"Bearer {access}"})
        assert dead.status_code == 401
        assert dead.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    again = await org.http.post(
        "/services/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": org.sandbox.client_id,
        },
    )
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    unknown = await org.http.post("/services/oauth2/revoke", data={"token": "nope"})
    assert unknown.status_code == 400


async def test_wrong_password_shows_the_form_again_and_deny_redirects_with_an_error(org: Org):
    form = {
        "response_type": "code",
        "client_id": org.sandbox.client_id,
        "redirect_uri": REDIRECT,
        "state": "s1",
    }
    wrong = await org.http.post(
        "/services/oauth2/authorize",
        data={**form, "username": org.sandbox.username, "password": "guess", "action": "approve"},
    )
    assert wrong.status_code == 401
    assert "check your username and password" in wrong.text
    assert "guess" not in wrong.text
    denied = await org.http.post("/services/oauth2/authorize", data={**form, "action": "deny"})
    assert denied.status_code == 302
    assert parse_qs(urlsplit(denied.headers["location"]).query)["error"] == ["access_denied"]
    unknown_client = await org.http.get(
        "/services/oauth2/authorize", params={**form, "client_id": "who"}
    )
    assert unknown_client.status_code == 400
    assert unknown_client.json()["error"] == "invalid_client_id"


async def test_password_flow_userinfo_and_identity(org: Org):
    response = await org.http.post(
        "/services/oauth2/token",
        data={
            "grant_type": "password",
            "client_id": org.sandbox.client_id,
            "client_secret": org.sandbox.client_secret,
            "username": org.sandbox.username,
            "password": org.sandbox.password,
        },
    )
    tokens = response.json()
    assert "refresh_token" not in tokens
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    info = (await org.http.get("/services/oauth2/userinfo", headers=bearer)).json()
    assert info["organization_id"] == org.sandbox.state.org_id
    assert info["user_id"] == org.sandbox.state.admin_user_id
    assert info["preferred_username"] == org.sandbox.username
    identity = await org.http.get(tokens["id"].removeprefix("https://sandbox.test"), headers=bearer)
    assert identity.status_code == 200
    assert identity.json()["urls"]["rest"].endswith("/services/data/v{version}/")
    assert (await org.http.get("/services/oauth2/userinfo")).status_code == 403
    bad = await org.http.post(
        "/services/oauth2/token",
        data={
            "grant_type": "password",
            "client_id": org.sandbox.client_id,
            "client_secret": org.sandbox.client_secret,
            "username": org.sandbox.username,
            "password": "wrong",
        },
    )
    assert bad.status_code == 400
    assert bad.json() == {"error": "invalid_grant", "error_description": "authentication failure"}


async def test_forced_expiry_answers_invalid_session(org: Org):
    assert (await org.get("sobjects")).status_code == 200
    expired = await org.http.post(
        "/_sandbox/salesforce/sessions/expire", json={"access_token": org.token}
    )
    assert expired.json() == {"expired": 1}
    response = await org.get("sobjects")
    assert response.status_code == 401
    assert response.json()[0] == {
        "message": "Session expired or invalid",
        "errorCode": "INVALID_SESSION_ID",
        "fields": [],
    }
