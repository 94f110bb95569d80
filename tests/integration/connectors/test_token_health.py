"""Token health: alerts that resolve, refreshes that let other writers be, tokens due in time."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.connectors.core import build_http_client
from freshforce.connectors.oauth import BearerAuth, TokenSource
from freshforce.errors import AuthError, TransientError
from freshforce.sandbox.core import SandboxRuntime, SandboxServer
from freshforce.sandbox.freshbooks import DEFAULT_APP, FreshBooksOptions, build_freshbooks
from freshforce.store.alerts import AlertKind, list_alerts, raise_alert
from freshforce.store.connections import (
    ConnectionStatus,
    NewConnection,
    Tokens,
    load_connection,
    save_connection,
)
from freshforce.store.crypto import TokenCipher, new_key
from freshforce.store.engine import create_engine
from freshforce.store.queue import NewJob, enqueue, list_jobs
from freshforce.store.refresh_lock import refresh_lock, refresh_lock_path

from .conftest import API, CONNECTION, FbWorld, now, provider, run_connect, store_minted

CLIENTS = "/accounting/account/SBX7QK/users/clients"
TOKEN = "/auth/oauth/token"
FAILED, RECOVERED = AlertKind.CONNECTION_AUTH_FAILED, AlertKind.CONNECTION_AUTH_RECOVERED


class TokenCallProbe(httpx.AsyncBaseTransport):
    """Pass every request through to the sandbox; set ``in_flight`` when a token call starts."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.in_flight = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == TOKEN:
            self.in_flight.set()
        return await self.inner.handle_async_request(request)


# -- 1. a second incident alerts again ---------------------------------------------------------


async def test_burn_reconnect_burn_raises_two_alerts_the_first_resolved(
    store_engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    runtime = SandboxRuntime.create(24)
    server = SandboxServer(build_freshbooks(FreshBooksOptions(auto_approve=True), runtime).app)
    server.start_in_thread()
    key = new_key()
    cipher = TokenCipher([SecretStr(key)])
    settings = {
        "FRESHFORCE_FRESHBOOKS_CLIENT_ID": DEFAULT_APP.client_id,
        "FRESHFORCE_FRESHBOOKS_CLIENT_SECRET": DEFAULT_APP.client_secret,
        "FRESHFORCE_FRESHBOOKS_API_URL": server.url,
        "FRESHFORCE_FRESHBOOKS_AUTH_URL": server.url,
    }

    async def approve(browser: httpx.AsyncClient, url: str) -> httpx.Response:
        return await browser.get(url)  # the sandbox approves at once

    async def connect() -> None:
        await run_connect(
            "freshbooks", settings, tmp_path, approve, database_url=database_url, key=key
        )

    async def burn(admin: httpx.AsyncClient) -> None:
        """Revoke the stored refresh token and let the access token expire at the provider."""
        async with store_engine.connect() as db:
            stored = await load_connection(db, cipher, "freshbooks")
        assert stored is not None
        assert stored.tokens.refresh_token is not None
        revoke = {
            "client_id": DEFAULT_APP.client_id,
            "client_secret": DEFAULT_APP.client_secret,
            "token": stored.tokens.refresh_token.get_secret_value(),
        }
        assert (await admin.post("/auth/oauth/revoke", json=revoke)).status_code == 200
        await admin.post("/_sandbox/clock/advance", json={"seconds": 43_300})

    source = TokenSource(store_engine, cipher, "freshbooks", provider(server.url), clock=now)
    try:
        async with (
            httpx.AsyncClient(base_url=server.url) as admin,
            build_http_client(server.url, auth=BearerAuth(source)) as api,
        ):
            await connect()
            assert (await api.get(CLIENTS)).status_code == 200
            await burn(admin)
            with pytest.raises(AuthError, match="refused"):
                await api.get(CLIENTS)

            await connect()
            assert (await api.get(CLIENTS)).status_code == 200  # the reconnect's tokens
            await burn(admin)
            with pytest.raises(AuthError, match="refused"):
                await api.get(CLIENTS)
    finally:
        server.stop()
        await runtime.aclose()

    async with store_engine.connect() as db:
        alerts = await list_alerts(db, connection_id="freshbooks")
        stored = await load_connection(db, cipher, "freshbooks")
    assert stored is not None
    assert stored.status is ConnectionStatus.PAUSED
    assert [(a.kind, a.severity) for a in alerts] == [
        (FAILED, "error"),
        (RECOVERED, "info"),
        (FAILED, "error"),
    ]
    first, notice, second = alerts
    assert first.resolved_at is not None
    assert notice.resolved_at == first.resolved_at  # a notice: nothing left open
    assert f"resolves alert {first.id}" in notice.message
    assert "reconnected" in notice.message
    assert second.resolved_at is None


async def test_a_refresh_that_works_again_resolves_the_open_auth_alert(fb_world: FbWorld) -> None:
    async with fb_world.engine.begin() as db:
        alert = await raise_alert(
            db, kind=FAILED, message="refused earlier", connection_id=CONNECTION, now=now()
        )
    source = fb_world.token_source()
    _, version = await source.current()

    await source.refresh(version)
    await source.refresh(version)  # nothing more to resolve: no second notice

    async with fb_world.engine.connect() as db:
        alerts = await list_alerts(db, connection_id=CONNECTION)
    assert [a.kind for a in alerts] == [FAILED, RECOVERED]
    assert alerts[0].id == alert
    assert all(a.resolved_at is not None for a in alerts)
    assert "token refreshed" in alerts[1].message


# -- 2. a slow token endpoint does not hold the store's write lock ------------------------------


async def test_a_stalled_token_endpoint_does_not_fail_a_concurrent_job_write(
    fb_world: FbWorld, database_url: str
) -> None:
    # The stall outlasts the other writer's busy timeout, as a 25 s stall outlasts the default
    # 30 s one once the writer has waited a few seconds already: under the old design (the write
    # lock held through the token call) the job's write failed with "database is locked".
    writer = create_engine(database_url, busy_timeout_ms=1_000)
    await fb_world.fault(kind="latency", latency_ms=2_500, path=TOKEN, times=1)
    probe = TokenCallProbe(fb_world.transport)
    source = TokenSource(
        fb_world.engine, fb_world.cipher, CONNECTION, provider(), clock=now, transport=probe
    )
    _, version = await source.current()
    try:
        refreshing = asyncio.create_task(source.refresh(version))
        await probe.in_flight.wait()

        async with writer.begin() as db:
            await enqueue(db, [NewJob("clients", "fb/client/1", now())], now=now())
        written_during_the_call = not refreshing.done()

        _, new_version = await refreshing
        async with writer.connect() as db:
            jobs = await list_jobs(db)
    finally:
        await writer.dispose()
    assert written_during_the_call
    assert new_version == version + 1
    assert [job.key for job in jobs] == ["fb/client/1"]


async def test_a_reconnect_during_a_slow_refresh_wins_and_nothing_pauses(
    fb_world: FbWorld,
) -> None:
    await fb_world.fault(kind="latency", latency_ms=1_000, path=TOKEN, times=1)
    probe = TokenCallProbe(fb_world.transport)
    source = TokenSource(
        fb_world.engine, fb_world.cipher, CONNECTION, provider(), clock=now, transport=probe
    )
    _, version = await source.current()
    refreshing = asyncio.create_task(source.refresh(version))
    await probe.in_flight.wait()

    reconnected = await store_minted(fb_world)  # `freshforce connect` saving a new grant

    token, _ = await refreshing
    async with fb_world.engine.connect() as db:
        stored = await load_connection(db, fb_world.cipher, CONNECTION)
        alerts = await list_alerts(db, connection_id=CONNECTION)
    assert stored is not None
    assert stored.status is ConnectionStatus.ACTIVE
    assert stored.tokens.access_token is not None
    assert stored.tokens.access_token.get_secret_value() == reconnected["access_token"]
    assert alerts == []
    works = await fb_world.admin.get(
        CLIENTS, headers={"Authorization": f"Bearer {token.get_secret_value()}"}
    )
    assert works.status_code == 200


async def test_a_refusal_of_the_old_grant_after_a_reconnect_leaves_the_connection_active(
    fb_world: FbWorld,
) -> None:
    old = await store_minted(fb_world)
    revoke = {
        "client_id": DEFAULT_APP.client_id,
        "client_secret": DEFAULT_APP.client_secret,
        "token": old["refresh_token"],
    }
    assert (await fb_world.admin.post("/auth/oauth/revoke", json=revoke)).status_code == 200
    await fb_world.fault(kind="latency", latency_ms=1_000, path=TOKEN, times=1)
    probe = TokenCallProbe(fb_world.transport)
    source = TokenSource(
        fb_world.engine, fb_world.cipher, CONNECTION, provider(), clock=now, transport=probe
    )
    _, version = await source.current()
    refreshing = asyncio.create_task(source.refresh(version))
    await probe.in_flight.wait()

    reconnected = await store_minted(fb_world)

    # Where the row is held through the call (PostgreSQL) the refusal pauses first and the
    # reconnect then resolves it; where it is not (SQLite) the refusal finds the new grant
    # and uses it. Either way the connection ends active on the new grant, no alert open.
    try:
        token, _ = await refreshing
    except AuthError:
        pass
    else:
        assert token.get_secret_value() == reconnected["access_token"]
    async with fb_world.engine.connect() as db:
        stored = await load_connection(db, fb_world.cipher, CONNECTION)
        alerts = await list_alerts(db, connection_id=CONNECTION)
    assert stored is not None
    assert stored.status is ConnectionStatus.ACTIVE
    assert stored.tokens.access_token is not None
    assert stored.tokens.access_token.get_secret_value() == reconnected["access_token"]
    assert all(alert.resolved_at is not None for alert in alerts)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_sqlite_refresh_lock_is_a_file_beside_the_database_and_waits_bounded(
    store_engine: AsyncEngine, database_url: str
) -> None:
    path = refresh_lock_path(store_engine, "fb/main")
    assert path is not None
    assert path.parent == Path(database_url.removeprefix("sqlite+aiosqlite:///")).parent
    assert path.name == "freshforce.db-refresh-fb%2Fmain.lock"

    async with refresh_lock(store_engine, "fb/main"):
        with pytest.raises(TransientError, match="another process has been refreshing"):
            async with refresh_lock(store_engine, "fb/main", wait=0.1):
                pass
        async with refresh_lock(store_engine, "other", wait=0.1):
            pass  # another connection's lock is free
    async with (
        refresh_lock(store_engine, "fb/main", wait=0.1) as transaction,
        transaction() as db,
    ):
        await enqueue(db, [NewJob("clients", "fb/client/2", now())], now=now())


# -- 3. short-lived tokens are not refreshed before every call ---------------------------------


async def test_a_sixty_second_token_is_granted_once_a_minute_not_per_call(
    store_engine: AsyncEngine,
) -> None:
    runtime = SandboxRuntime.create(60)
    sandbox = build_freshbooks(FreshBooksOptions(seed=60, token_lifetime=60), runtime)
    transport = httpx.ASGITransport(app=sandbox.app)
    cipher = TokenCipher([SecretStr(new_key())])
    clock = runtime.clock.now  # the source's time moves with the sandbox's
    async with httpx.AsyncClient(transport=transport, base_url=API) as admin:
        minted = (await admin.post("/_sandbox/tokens", json={})).json()
        assert minted["expires_in"] == 60
        tokens = Tokens(
            SecretStr(minted["access_token"]),
            SecretStr(minted["refresh_token"]),
            clock() + timedelta(seconds=60),
        )
        async with store_engine.begin() as db:
            await save_connection(
                db, cipher, NewConnection(CONNECTION, "freshbooks", tokens), now=clock()
            )
        source = TokenSource(
            store_engine, cipher, CONNECTION, provider(), clock=clock, transport=transport
        )
        async with build_http_client(API, transport=transport, auth=BearerAuth(source)) as api:
            for _ in range(36):  # a call every 5 s for 3 minutes
                assert (await api.get(CLIENTS)).status_code == 200
                await admin.post("/_sandbox/clock/advance", json={"seconds": 5})
        served = (await admin.get("/_sandbox/requests", params={"path": "/"})).json()["requests"]
    await runtime.aclose()
    assert [r["path"] for r in served].count(TOKEN) == 3  # one grant per minute
    assert all(r["status"] == 200 for r in served)  # each refreshed before it expired
    assert source.refreshes == 3
