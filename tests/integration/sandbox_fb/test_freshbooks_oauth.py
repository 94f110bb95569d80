"""FreshBooks OAuth, identity, faults, persistence and seeding through the HTTP surface."""

from __future__ import annotations

import time
import urllib.parse
from pathlib import Path

import httpx

from conftest import FreshBooks, build_app

CLIENT = {"client_id": "freshforce-sandbox", "client_secret": "sandbox-secret"}
REDIRECT = "https://app.example/callback"


def code_of(response: httpx.Response) -> str:
    assert response.status_code == 302, response.text
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(response.headers["location"]).query)
    assert query["state"] == ["xyz"]
    return query["code"][0]


async def exchange(http: httpx.AsyncClient, code: str) -> httpx.Response:
    body = {**CLIENT, "grant_type": "authorization_code", "redirect_uri": REDIRECT, "code": code}
    return await http.post("/auth/oauth/token", data=body)


async def test_consent_page_code_exchange_and_single_use_refresh(fb: FreshBooks) -> None:
    params = {
        "client_id": CLIENT["client_id"],
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "state": "xyz",
    }
    page = await fb.http.get("/oauth/authorize", params=params)
    assert page.status_code == 200
    assert "Allow" in page.text
    denied = await fb.http.post("/oauth/authorize", data={**params, "decision": "deny"})
    assert "error=access_denied" in denied.headers["location"]
    code = code_of(await fb.http.post("/oauth/authorize", data={**params, "decision": "approve"}))
    tokens = (await exchange(fb.http, code)).json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 43_200
    assert isinstance(tokens["created_at"], int)
    assert "user:clients:read" in tokens["scope"].split()
    reused = await exchange(fb.http, code)
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")

    refresh = {**CLIENT, "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    rotated = await fb.http.post("/auth/oauth/token", json=refresh)
    assert rotated.status_code == 200
    assert rotated.json()["refresh_token"] != tokens["refresh_token"]
    again = await fb.http.post("/auth/oauth/token", json=refresh)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    me = await fb.http.get("/auth/api/v1/users/me", headers=fb.auth(rotated.json()["access_token"]))
    membership = me.json()["response"]["business_memberships"][0]
    assert membership["business"]["account_id"] == fb.account


async def test_auto_approve_redirects_at_once() -> None:
    built = build_app(auto_approve=True)
    transport = httpx.ASGITransport(app=built.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://fb.test") as http:
        params = {
            "client_id": CLIENT["client_id"],
            "response_type": "code",
            "redirect_uri": REDIRECT,
            "state": "xyz",
        }
        code = code_of(await http.get("/oauth/authorize/", params=params))
        assert (await exchange(http, code)).status_code == 200
        bad = await http.get("/oauth/authorize", params={**params, "client_id": "nobody"})
        assert bad.status_code == 401
    await built.runtime.aclose()


async def test_token_errors(fb: FreshBooks) -> None:
    wrong = await fb.http.post(
        "/auth/oauth/token",
        data={
            **CLIENT,
            "client_secret": "nope",
            "grant_type": "refresh_token",
            "refresh_token": "x",
        },
    )
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    missing = await fb.http.post(
        "/auth/oauth/token", data={**CLIENT, "grant_type": "refresh_token"}
    )
    assert missing.status_code == 400
    assert "refresh_token" in missing.json()["error_description"]
    grant = await fb.http.post("/auth/oauth/token", data={**CLIENT, "grant_type": "password"})
    assert grant.json()["error"] == "unsupported_grant_type"


async def test_access_token_expiry_follows_the_clock_and_revoke(fb: FreshBooks, fb_app) -> None:
    short = (await fb.http.post("/_sandbox/tokens", json={"expires_in": 60})).json()
    headers = fb.auth(short["access_token"])
    assert (await fb.http.get("/auth/api/v1/users/me", headers=headers)).status_code == 200
    await fb.http.post("/_sandbox/clock/advance", json={"seconds": 61})
    expired = await fb.http.get("/auth/api/v1/users/me", headers=headers)
    assert expired.status_code == 401
    assert expired.json()["error"] == "invalid_token"
    accounting = await fb.http.get(fb.url("users/clients"), headers=headers)
    assert accounting.status_code == 401
    assert accounting.json()["response"]["errors"][0]["errno"] == 1003
    events = await fb.http.get(f"/events/account/{fb.account}/events/callbacks", headers=headers)
    assert events.json()["errno"] == 401
    fresh = (await fb.http.post("/_sandbox/tokens", json={})).json()
    await fb.http.post("/auth/oauth/revoke", json={**CLIENT, "token": fresh["access_token"]})
    revoked = await fb.http.get("/auth/api/v1/users/me", headers=fb.auth(fresh["access_token"]))
    assert revoked.status_code == 401
    nobody = await fb.http.get("/auth/api/v1/users/me")
    assert nobody.json() == {
        "error": "unauthenticated",
        "error_description": "This action requires authentication to continue.",
    }


async def test_fault_rules_answer_in_freshbooks_shapes(fb: FreshBooks) -> None:
    await fb.http.post(
        "/_sandbox/faults",
        json={"kind": "rate_limit", "path": "/accounting/*", "times": 1, "retry_after": 7},
    )
    limited = await fb.http.get(fb.url("users/clients"), headers=fb.auth())
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "7"
    assert "errors" in limited.json()["response"]
    await fb.http.post("/_sandbox/faults", json={"kind": "expired_token", "times": 1})
    expired = await fb.http.get("/auth/api/v1/users/me", headers=fb.auth())
    assert expired.json()["error"] == "invalid_token"
    assert (await fb.http.get(fb.url("users/clients"), headers=fb.auth())).status_code == 200
    log = (await fb.http.get("/_sandbox/requests", params={"path": "/accounting"})).json()
    assert [e["status"] for e in log["requests"]] == [429, 200]
    assert log["requests"][1]["user"] == "1001"
    assert log["requests"][1]["client"] == "freshforce-sandbox"


async def test_state_file_survives_a_rebuild(tmp_path: Path) -> None:
    path = tmp_path / "fb.json"
    first = build_app(state_file=path)
    transport = httpx.ASGITransport(app=first.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://fb.test") as http:
        token = (await http.post("/_sandbox/tokens", json={})).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        made = await http.post(
            "/accounting/account/SBX7QK/users/clients",
            json={"client": {"organization": "Persisted"}},
            headers=headers,
        )
        assert made.status_code == 200
    await first.runtime.aclose()
    assert path.exists()
    second = build_app(state_file=path)
    transport = httpx.ASGITransport(app=second.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://fb.test") as http:
        again = await http.get("/accounting/account/SBX7QK/users/clients", headers=headers)
        assert [c["organization"] for c in again.json()["response"]["result"]["clients"]] == [
            "Persisted"
        ]
    await second.runtime.aclose()


def strip_times(value):
    if isinstance(value, dict):
        return {
            k: strip_times(v)
            for k, v in value.items()
            if k not in {"updated", "created_at", "signup_date", "create_date", "date"}
        }
    if isinstance(value, list):
        return [strip_times(v) for v in value]
    return value


async def test_seed_is_deterministic_and_counts(fb: FreshBooks) -> None:
    created = (await fb.http.post("/_sandbox/seed", json={"records": 8, "seed": 5})).json()
    assert created["created"]["clients"] == 8
    assert created["created"]["invoices"] == 8
    snap_a = (await fb.http.get("/_sandbox/snapshot")).json()["accounting"]
    await fb.http.post("/_sandbox/reset")
    await fb.http.post("/_sandbox/seed", json={"records": 8, "seed": 5})
    snap_b = (await fb.http.get("/_sandbox/snapshot")).json()["accounting"]
    assert strip_times(snap_a) == strip_times(snap_b)
    await fb.http.post("/_sandbox/reset")
    await fb.http.post("/_sandbox/seed", json={"records": 8, "seed": 6})
    snap_c = (await fb.http.get("/_sandbox/snapshot")).json()["accounting"]
    assert strip_times(snap_a) != strip_times(snap_c)
    statuses = {i["v3_status"] for i in snap_a["records"]["invoices"]}
    assert statuses & {"paid", "partial"}


async def test_scopes_are_enforced(fb: FreshBooks) -> None:
    params = {
        "client_id": CLIENT["client_id"],
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "state": "xyz",
        "scope": "user:profile:read",
    }
    code = code_of(await fb.http.post("/oauth/authorize", data={**params, "decision": "approve"}))
    tokens = (await exchange(fb.http, code)).json()
    assert tokens["scope"] == "user:profile:read"
    headers = fb.auth(tokens["access_token"])
    assert (await fb.http.get("/auth/api/v1/users/me", headers=headers)).status_code == 200
    denied = await fb.http.get(fb.url("users/clients"), headers=headers)
    assert denied.status_code == 403
    assert denied.json()["message"].startswith("insufficient_scope:")
    assert "user:clients:read" in denied.json()["message"]
    bad = await fb.http.post(
        "/oauth/authorize", data={**params, "scope": "user:bills:read", "decision": "approve"}
    )
    assert "error=invalid_scope" in bad.headers["location"]


async def test_latency_option_slows_api_but_not_admin() -> None:
    built = build_app(latency_ms=500)
    transport = httpx.ASGITransport(app=built.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://fb.test") as http:
        started = time.perf_counter()
        await http.get("/_sandbox/clock")
        admin = time.perf_counter() - started
        started = time.perf_counter()
        assert (await http.get("/auth/api/v1/users/me")).status_code == 401
        api = time.perf_counter() - started
    await built.runtime.aclose()
    assert api >= 0.5
    assert admin < 0.5


async def test_used_refresh_token_stays_dead_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "fb.json"
    refresh = {**CLIENT, "grant_type": "refresh_token"}
    first = build_app(state_file=path)
    transport = httpx.ASGITransport(app=first.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://fb.test") as http:
        used = (await http.post("/_sandbox/tokens", json={})).json()["refresh_token"]
        rotated = await http.post("/auth/oauth/token", data={**refresh, "refresh_token": used})
        assert rotated.status_code == 200
    await first.runtime.aclose()
    second = build_app(state_file=path)
    transport = httpx.ASGITransport(app=second.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://fb.test") as http:
        minted = (await http.post("/_sandbox/tokens", json={})).json()
        assert used not in (minted["access_token"], minted["refresh_token"])
        again = await http.post("/auth/oauth/token", data={**refresh, "refresh_token": used})
        assert again.status_code == 400
        newest = rotated.json()["refresh_token"]
        assert (
            await http.post("/auth/oauth/token", data={**refresh, "refresh_token": newest})
        ).status_code == 200
    await second.runtime.aclose()
