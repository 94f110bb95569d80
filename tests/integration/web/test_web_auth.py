"""Dashboard auth over HTTP: login, sessions, roles, CSRF, rate limit, no secrets shown."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs
from web_support import PASSWORD, PASSWORD_HASH, bury_one, csrf, login

from freshforce.store.users import set_api_token, set_password
from freshforce.web.passwords import new_api_token, token_hash
from freshforce.web.sessions import SESSION_COOKIE

PAGES = ["/", "/partials/overview", "/dead-letters", "/dead-letters/1", "/connections"]
PAGES += ["/alerts", "/audit", "/matches", "/configuration"]
API = ["/api/me", "/api/overview", "/api/jobs", "/api/jobs/1/attempts", "/api/dead-letters"]
API += ["/api/dead-letters/1", "/api/connections", "/api/alerts", "/api/audit"]
API += ["/api/audit/actions", "/api/matches", "/api/matches/1", "/api/configuration"]


@pytest.mark.parametrize("path", PAGES)
async def test_pages_send_a_visitor_to_the_login_page(app_client, path):
    answer = await app_client.get(path)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=/")


async def test_an_expired_htmx_poll_sends_the_whole_page_to_login(app_client):
    headers = {"HX-Request": "true", "HX-Current-URL": "http://testserver/"}
    answer = await app_client.get("/partials/overview", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["hx-redirect"] == "/login?next=/"


@pytest.mark.parametrize("path", API)
async def test_the_api_answers_401_without_a_session(app_client, path):
    answer = await app_client.get(path)
    assert answer.status_code == 401
    assert "log in" in answer.json()["detail"]


async def test_login_sets_a_hardened_cookie_and_opens_the_pages(app_client):
    answer = await login(app_client, "olga")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    set_cookie = next(
        v for v in answer.headers.get_list("set-cookie") if v.startswith(SESSION_COOKIE)
    )
    assert "HttpOnly" in set_cookie
    assert "SameSite=lax" in set_cookie
    assert "Secure" not in set_cookie  # plain http in tests; https gets Secure
    page = await app_client.get("/")
    assert page.status_code == 200
    assert "olga (operator)" in page.text


async def test_cookie_is_secure_over_https(app_client):
    app_client.base_url = "https://testserver"
    answer = await login(app_client, "olga")
    assert answer.status_code == 303
    cookie = next(v for v in answer.headers.get_list("set-cookie") if v.startswith(SESSION_COOKIE))
    assert "Secure" in cookie


async def test_wrong_password_and_unknown_user_look_the_same(app_client):
    wrong = await login(app_client, "olga", "not the password")
    nobody = await login(app_client, "nobody", PASSWORD)
    assert wrong.status_code == nobody.status_code == 401
    assert "Wrong name or password." in wrong.text
    assert "Wrong name or password." in nobody.text
    assert SESSION_COOKIE not in app_client.cookies


async def test_login_form_needs_its_csrf_cookie(app_client):
    await app_client.get("/login")
    answer = await app_client.post(
        "/login",
        data={"username": "olga", "password": PASSWORD, "csrf_token": "forged"},
    )
    assert answer.status_code == 403
    assert SESSION_COOKIE not in app_client.cookies


async def test_login_is_rate_limited_then_recovers(app_client, clock):
    for _ in range(5):
        assert (await login(app_client, "olga", "wrong password")).status_code == 401
    limited = await login(app_client, "olga")  # the right password, but too soon
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    clock.advance(301)
    assert (await login(app_client, "olga")).status_code == 303


async def test_next_only_goes_to_this_site(app_client):
    form = await app_client.get("/login")
    token = form.cookies["ff_login_csrf"]
    answer = await app_client.post(
        "/login",
        data={
            "username": "olga",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "//evil.example/",
        },
    )
    assert answer.headers["location"] == "/"


async def test_logout_needs_csrf_and_ends_the_session(app_client):
    await login(app_client, "vic")
    assert (await app_client.post("/logout", data={"csrf_token": "bad"})).status_code == 403
    token = await csrf(app_client)
    answer = await app_client.post("/logout", data={"csrf_token": token})
    assert answer.status_code == 303
    assert (await app_client.get("/api/me")).status_code == 401


async def test_a_forged_or_expired_cookie_is_refused(app_client, clock):
    await login(app_client, "vic")
    good = app_client.cookies[SESSION_COOKIE]
    body, mac = good.split(".")
    app_client.cookies.set(SESSION_COOKIE, f"{body}.{mac[:-2]}AA")
    assert (await app_client.get("/api/me")).status_code == 401
    app_client.cookies.set(SESSION_COOKIE, good)
    assert (await app_client.get("/api/me")).status_code == 200
    clock.advance(13 * 3600)
    assert (await app_client.get("/api/me")).status_code == 401


async def test_a_new_password_ends_old_sessions(app_client, store_engine, clock):
    await login(app_client, "vic")
    assert (await app_client.get("/api/me")).status_code == 200
    async with store_engine.begin() as conn:
        await set_password(conn, username="vic", password_hash=PASSWORD_HASH + "x", now=clock())
    assert (await app_client.get("/api/me")).status_code == 401


async def test_logins_are_logged_without_the_password(app_client):
    with capture_logs() as logs:
        await login(app_client, "olga", "wrong password")
        await login(app_client, "olga")
    events = [e["event"] for e in logs]
    assert events == ["web_login_failed", "web_login"]
    assert all(PASSWORD not in repr(e) and "wrong password" not in repr(e) for e in logs)


async def test_viewer_is_refused_operator_actions(app_client, queue):
    letter = await bury_one(queue)
    await login(app_client, "vic")
    token = await csrf(app_client)
    headers = {"X-CSRF-Token": token}
    for method, path, body in [
        ("POST", f"/api/dead-letters/{letter}/replay", None),
        ("POST", "/api/dead-letters/replay", {"ids": [letter]}),
        ("PUT", f"/api/dead-letters/{letter}/payload", {"payload": {"hints": []}}),
        ("POST", f"/api/dead-letters/{letter}/discard", {"reason": "x"}),
    ]:
        answer = await app_client.request(method, path, json=body, headers=headers)
        assert answer.status_code == 403, path
        assert "operators only" in answer.json()["detail"]
    for path, data in [
        (f"/dead-letters/{letter}/replay", {}),
        ("/dead-letters/replay", {"ids": [str(letter)]}),
        (f"/dead-letters/{letter}/edit", {"payload": "{}"}),
        (f"/dead-letters/{letter}/discard", {"reason": "x"}),
    ]:
        answer = await app_client.post(path, data={**data, "csrf_token": token})
        assert answer.status_code == 403, path
    assert (await queue.dead_letter(letter)).replayed_at is None  # type: ignore[union-attr]


async def test_operator_writes_need_the_csrf_token(app_client, queue):
    letter = await bury_one(queue)
    await login(app_client, "olga")
    api = await app_client.post(f"/api/dead-letters/{letter}/replay")
    assert api.status_code == 403
    assert "CSRF" in api.json()["detail"]
    wrong = await app_client.post(
        f"/api/dead-letters/{letter}/replay", headers={"X-CSRF-Token": "nope"}
    )
    assert wrong.status_code == 403
    form = await app_client.post(f"/dead-letters/{letter}/replay", data={"csrf_token": "nope"})
    assert form.status_code == 403
    assert (await queue.dead_letter(letter)).replayed_at is None  # type: ignore[union-attr]


async def test_no_secret_in_pages_or_answers(app_client, settings):
    await login(app_client, "olga")
    key = settings.web_session_key.get_secret_value()
    for path in [*PAGES[:3], *PAGES[4:], *API[:3], "/api/connections", "/api/audit", *API[-4:]]:
        answer = await app_client.get(path)
        assert key not in answer.text
        assert PASSWORD_HASH not in answer.text
        assert "$argon2" not in answer.text


async def _give_token(store_engine, clock, username: str) -> str:
    token = new_api_token()
    async with store_engine.begin() as conn:
        assert await set_api_token(
            conn, username=username, token_hash=token_hash(token), now=clock()
        )
    return token


async def test_bearer_tokens_read_and_write_the_api_without_csrf(
    app_client, store_engine, clock, queue
):
    letter = await bury_one(queue)
    token = await _give_token(store_engine, clock, "olga")
    auth = {"Authorization": f"Bearer {token}"}
    me = await app_client.get("/api/me", headers=auth)
    assert me.status_code == 200
    assert me.json()["username"] == "olga"
    replayed = await app_client.post(f"/api/dead-letters/{letter}/replay", headers=auth)
    assert replayed.status_code == 200, replayed.text
    [entry] = (await app_client.get("/api/audit", headers=auth)).json()
    assert (entry["actor"], entry["action"]) == ("olga", "dead_letter.replay")
    page = await app_client.get("/", headers=auth)  # pages take the session cookie only
    assert page.status_code == 303
    assert token not in replayed.text + me.text


async def test_bad_viewer_and_revoked_tokens(app_client, store_engine, clock, queue):
    letter = await bury_one(queue)
    wrong = await app_client.get("/api/me", headers={"Authorization": "Bearer ffu_nope"})
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"] == "Bearer"
    viewer = {"Authorization": f"Bearer {await _give_token(store_engine, clock, 'vic')}"}
    assert (await app_client.get("/api/overview", headers=viewer)).status_code == 200
    refused = await app_client.post(f"/api/dead-letters/{letter}/replay", headers=viewer)
    assert refused.status_code == 403
    async with store_engine.begin() as conn:
        await set_api_token(conn, username="vic", token_hash=None, now=clock())
    assert (await app_client.get("/api/overview", headers=viewer)).status_code == 401
