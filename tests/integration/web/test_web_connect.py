"""Connecting, reconnecting and disconnecting from the dashboard, against the FreshBooks sandbox."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from web_support import csrf, login

from freshforce.sandbox.core import SandboxRuntime, SandboxServer
from freshforce.sandbox.freshbooks import DEFAULT_APP, FreshBooksOptions, build_freshbooks
from freshforce.sandbox.salesforce import build_salesforce_sandbox
from freshforce.settings import Settings
from freshforce.store.audit import list_audit
from freshforce.store.connections import list_connections
from freshforce.store.crypto import TokenCipher, new_key
from freshforce.store.linking import NewLink, create_links
from freshforce.store.scope import Scope
from freshforce.web import create_app

SANDBOX = "http://fb.sandbox"


@pytest.fixture
async def world(store_engine, clock, users, tmp_path: Path) -> AsyncIterator[dict]:
    runtime = SandboxRuntime.create(5)
    sandbox = build_freshbooks(FreshBooksOptions(auto_approve=True), runtime)
    to_sandbox = httpx.ASGITransport(app=sandbox.app)
    settings = Settings(
        data_dir=tmp_path,
        web_session_key="k" * 40,
        encryption_keys=[SecretStr(new_key())],
        freshbooks_client_id=DEFAULT_APP.client_id,
        freshbooks_client_secret=SecretStr(DEFAULT_APP.client_secret),
        freshbooks_api_url=SANDBOX,
        freshbooks_auth_url=SANDBOX,
    )
    app = create_app(store_engine, settings=settings, clock=clock, transport=to_sandbox)
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as dashboard,
        httpx.AsyncClient(transport=to_sandbox) as provider,
    ):
        yield {"dashboard": dashboard, "provider": provider, "engine": store_engine}
    await runtime.aclose()


async def _start_system(dashboard: httpx.AsyncClient, system: str, name: str) -> httpx.Response:
    token = await csrf(dashboard)
    return await dashboard.post(
        f"/connections/{system}/connect", data={"name": name, "csrf_token": token}
    )


async def _start(dashboard: httpx.AsyncClient, name: str = "fb-main") -> httpx.Response:
    return await _start_system(dashboard, "freshbooks", name)


async def test_connect_freshbooks_through_the_browser_pages(world):
    dashboard, provider = world["dashboard"], world["provider"]
    await login(dashboard, "olga")
    started = await _start(dashboard)
    assert started.status_code == 303
    authorize = httpx.URL(started.headers["location"])
    assert str(authorize).startswith(f"{SANDBOX}/oauth/authorize?")
    assert authorize.params["redirect_uri"] == "http://testserver/connections/freshbooks/callback"
    assert "ff_oauth" in started.headers["set-cookie"]
    assert "httponly" in started.headers["set-cookie"].lower()
    approved = await provider.get(authorize)  # the sandbox approves at once
    assert approved.status_code == 302
    back = await dashboard.get(approved.headers["location"])
    assert back.status_code == 303, back.text
    assert back.headers["location"] == "/connections?connected=fb-main"
    page = await dashboard.get(back.headers["location"])
    assert "Connected fb-main." in page.text
    assert 'id="disconnect-fb-main"' in page.text
    async with world["engine"].connect() as db:
        [stored] = await list_connections(db)
        [entry] = await list_audit(db, action="connection.connect")
    assert (stored.id, stored.system, stored.status.value) == ("fb-main", "freshbooks", "active")
    assert (stored.remote_account, stored.remote_business) == ("SBX7QK", "77001")
    assert (entry.actor, entry.target) == ("olga", "connection:fb-main")
    replayed = await dashboard.get(approved.headers["location"])  # the cookie is spent
    assert replayed.status_code == 400


async def test_callback_refusals(world):
    dashboard, provider = world["dashboard"], world["provider"]
    await login(dashboard, "olga")
    no_cookie = await dashboard.get("/connections/freshbooks/callback?code=x&state=y")
    assert no_cookie.status_code == 400
    assert "no connect was started from this browser" in no_cookie.text
    started = await _start(dashboard)
    approved = await provider.get(started.headers["location"])
    forged = httpx.URL(approved.headers["location"]).copy_set_param("state", "forged")
    wrong_state = await dashboard.get(forged)
    assert wrong_state.status_code == 400
    assert "state does not match" in wrong_state.text
    stateless = httpx.URL(approved.headers["location"]).copy_remove_param("state")
    assert "code" in stateless.params
    no_state = await dashboard.get(stateless)
    assert no_state.status_code == 400
    assert "state does not match" in no_state.text
    denied = await dashboard.get(
        "/connections/freshbooks/callback",
        params={"error": "access_denied", "state": httpx.URL(forged).params["state"]},
    )
    assert denied.status_code == 400
    assert "freshbooks refused the authorisation (access_denied)" in denied.text
    other_system = await dashboard.get("/connections/salesforce/callback?code=x&state=y")
    assert other_system.status_code == 400
    assert (await dashboard.get("/connections/quickbooks/callback")).status_code == 422
    async with world["engine"].connect() as db:
        assert await list_connections(db) == []


async def test_viewers_and_missing_csrf_cannot_connect(world):
    dashboard = world["dashboard"]
    await login(dashboard, "vic")
    token = await csrf(dashboard)
    form = {"name": "fb", "csrf_token": token}
    assert (await dashboard.post("/connections/freshbooks/connect", data=form)).status_code == 403
    assert (await dashboard.get("/connections/freshbooks/callback")).status_code == 403
    page = await dashboard.get("/connections")
    assert 'id="connect-freshbooks"' not in page.text
    await login(dashboard, "olga")
    no_csrf = await dashboard.post("/connections/freshbooks/connect", data={"name": "fb"})
    assert no_csrf.status_code == 403
    bad_name = await dashboard.post(
        "/connections/freshbooks/connect",
        data={"name": "../x", "csrf_token": await csrf(dashboard)},
    )
    assert bad_name.status_code == 422


async def test_salesforce_without_an_app_says_which_settings(world):
    dashboard = world["dashboard"]
    await login(dashboard, "olga")
    token = await csrf(dashboard)
    answer = await dashboard.post(
        "/connections/salesforce/connect", data={"name": "sf", "csrf_token": token}
    )
    assert answer.status_code == 409
    assert "salesforce_client_id and salesforce_client_secret" in answer.text


async def test_disconnect_forgets_the_connection_and_audits(world):
    dashboard, provider = world["dashboard"], world["provider"]
    await login(dashboard, "olga")
    approved = await provider.get((await _start(dashboard)).headers["location"])
    await dashboard.get(approved.headers["location"])
    token = await csrf(dashboard)
    gone = await dashboard.post("/connections/fb-main/disconnect", data={"csrf_token": token})
    assert gone.status_code == 303
    again = await dashboard.post("/connections/fb-main/disconnect", data={"csrf_token": token})
    assert again.status_code == 404
    assert (await dashboard.post("/connections/fb-main/disconnect")).status_code == 403
    async with world["engine"].connect() as db:
        assert await list_connections(db) == []
        [entry] = await list_audit(db, action="connection.disconnect")
    assert entry.target == "connection:fb-main"


async def test_connect_salesforce_with_pkce_over_a_socket(store_engine, clock, users, tmp_path):
    runtime = SandboxRuntime.create(6)
    sandbox = build_salesforce_sandbox(runtime)
    server = SandboxServer(sandbox.app)
    server.start_in_thread()
    settings = Settings(
        data_dir=tmp_path,
        web_session_key="k" * 40,
        encryption_keys=[SecretStr(new_key())],
        salesforce_client_id=sandbox.client_id,
        salesforce_client_secret=SecretStr(sandbox.client_secret),
        salesforce_login_url=server.url,
    )
    app = create_app(store_engine, settings=settings, clock=clock)
    try:
        async with (
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver"
            ) as dashboard,
            httpx.AsyncClient() as browser,
        ):
            await login(dashboard, "olga")
            started = await _start_system(dashboard, "salesforce", "sf")
            authorize = httpx.URL(started.headers["location"])
            assert authorize.params["code_challenge_method"] == "S256"
            form = dict(authorize.params)
            form.update(username=sandbox.username, password=sandbox.password, action="approve")
            approved = await browser.post(f"{server.url}/services/oauth2/authorize", data=form)
            assert approved.status_code in {302, 303}, approved.text
            back = await dashboard.get(approved.headers["location"])
            assert back.status_code == 303, back.text
    finally:
        server.stop()
        await runtime.aclose()
    async with store_engine.connect() as db:
        [stored] = await list_connections(db)
    assert (stored.id, stored.instance_url) == ("sf", server.url)
    assert stored.remote_account == sandbox.state.org_id
    timeline_link = f"{server.url}/001000000000001AAA"
    async with store_engine.begin() as db:
        await create_links(db, Scope("default", "clients"), [NewLink("1", "001000000000001AAA")])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as dashboard:
        await login(dashboard, "vic")
        record = (await dashboard.get("/api/records/timeline", params={"q": "1"})).json()
        [shown] = (await dashboard.get("/api/connections")).json()
    assert record["links"][0]["salesforce"][0]["url"] == timeline_link
    # Salesforce states no expiry; an active connection is healthy until a refresh fails.
    assert (shown["health"], shown["token_expires_at"]) == ("ok", None)
    assert (shown["scopes"], shown["token_refreshed_at"]) == ("api refresh_token", None)
    assert "access_token" not in shown


async def test_no_encryption_keys_is_refused_before_the_provider(
    store_engine, clock, users, tmp_path
):
    settings = Settings(
        data_dir=tmp_path,
        web_session_key="k" * 40,
        freshbooks_client_id=DEFAULT_APP.client_id,
        freshbooks_client_secret=SecretStr(DEFAULT_APP.client_secret),
    )
    app = create_app(store_engine, settings=settings, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as dashboard:
        await login(dashboard, "olga")
        answer = await _start(dashboard)
    assert answer.status_code == 409
    assert "encryption_keys is empty" in answer.text
    assert "ff_oauth" not in answer.headers.get("set-cookie", "")


async def test_the_pkce_verifier_is_encrypted_in_the_cookie(world, tmp_path):
    dashboard = world["dashboard"]
    await login(dashboard, "olga")
    started = await _start(dashboard)
    cookie = started.cookies["ff_oauth"]
    body = json.loads(base64.urlsafe_b64decode(cookie.split(".")[0] + "=="))
    assert body["verifier"] is None  # FreshBooks takes no PKCE
    sf_settings = Settings(
        data_dir=tmp_path,
        web_session_key="k" * 40,
        encryption_keys=[SecretStr(new_key())],
        salesforce_client_id="app",
        salesforce_client_secret=SecretStr("s"),
    )
    app = create_app(world["engine"], settings=sf_settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        await login(other, "olga")
        started = await _start_system(other, "salesforce", "sf")
    cookie = started.cookies["ff_oauth"]
    body = json.loads(base64.urlsafe_b64decode(cookie.split(".")[0] + "=="))
    challenge = httpx.URL(started.headers["location"]).params["code_challenge"]
    verifier = TokenCipher(sf_settings.encryption_keys).decrypt(body["verifier"])
    digest = hashlib.sha256(verifier.encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == challenge
    assert verifier not in cookie


async def test_disconnect_through_the_api(world):
    dashboard, provider = world["dashboard"], world["provider"]
    await login(dashboard, "olga")
    approved = await provider.get((await _start(dashboard)).headers["location"])
    await dashboard.get(approved.headers["location"])
    assert (await dashboard.delete("/api/connections/fb-main")).status_code == 403  # no CSRF
    headers = {"X-CSRF-Token": await csrf(dashboard)}
    gone = await dashboard.delete("/api/connections/fb-main", headers=headers)
    assert gone.status_code == 200, gone.text
    assert gone.json() == {"connection_id": "fb-main", "disconnected": True}
    again = await dashboard.delete("/api/connections/fb-main", headers=headers)
    assert again.status_code == 404
    assert again.json()["detail"] == "no connection fb-main"
    assert (await dashboard.delete("/api/connections/a%20b", headers=headers)).status_code == 422
    async with world["engine"].connect() as db:
        assert await list_connections(db) == []
        [entry] = await list_audit(db, action="connection.disconnect")
    assert (entry.actor, entry.target) == ("olga", "connection:fb-main")
    await login(dashboard, "vic")
    headers = {"X-CSRF-Token": await csrf(dashboard)}
    assert (await dashboard.delete("/api/connections/fb-main", headers=headers)).status_code == 403
