"""The HTTP core and OAuth refresh against the FreshBooks sandbox with faults on."""

from __future__ import annotations

import pytest
import structlog
from structlog.testing import capture_logs

from freshforce.errors import AmbiguousWriteError, AuthError, RecordGoneError, TransientError
from freshforce.store.alerts import list_alerts
from freshforce.store.connections import ConnectionStatus, load_connection

from .conftest import CONNECTION, DEFAULT_APP, FbWorld, store_minted

# The retry and classification rules do not touch the store: one backend is enough for them.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

CLIENTS = "/accounting/account/SBX7QK/users/clients"
TOKEN = "/auth/oauth/token"


async def test_expired_token_mid_run_refreshes_once_and_stores_before_use(
    fb_world: FbWorld,
) -> None:
    api = await fb_world.api()
    assert (await api.request("GET", CLIENTS)).status_code == 200
    await fb_world.admin.post("/_sandbox/clock/advance", json={"seconds": 43_300})

    response = await api.request("GET", CLIENTS)

    assert response.status_code == 200
    assert len(await fb_world.requests(TOKEN)) == 1
    async with fb_world.engine.connect() as db:
        stored = await load_connection(db, fb_world.cipher, CONNECTION)
    assert stored is not None
    assert stored.token_version == 1
    used = response.request.headers["Authorization"].removeprefix("Bearer ")
    assert stored.tokens.access_token is not None
    assert stored.tokens.access_token.get_secret_value() == used


@SQLITE_ONLY
async def test_429_is_retried_after_the_remote_retry_after(fb_world: FbWorld) -> None:
    await fb_world.fault(kind="rate_limit", path=CLIENTS, times=2, retry_after=3)
    api = await fb_world.api()

    response = await api.request("GET", CLIENTS)

    assert response.status_code == 200
    assert fb_world.sleeps.waits == [3.0, 3.0]
    assert fb_world.counter.calls(CONNECTION) == 3


@SQLITE_ONLY
async def test_5xx_is_retried_then_given_up_as_transient(fb_world: FbWorld) -> None:
    await fb_world.fault(kind="error", status=503, path=CLIENTS, times=2)
    api = await fb_world.api()
    assert (await api.request("GET", CLIENTS)).status_code == 200

    await fb_world.fault(kind="error", status=502, path=CLIENTS)
    with pytest.raises(TransientError) as caught:
        await api.request("GET", CLIENTS)
    assert caught.value.http_status == 502
    assert not isinstance(caught.value, AmbiguousWriteError)
    assert fb_world.counter.calls(CONNECTION) == 3 + 4


@SQLITE_ONLY
async def test_lost_response_to_a_create_is_an_ambiguous_write(fb_world: FbWorld) -> None:
    await fb_world.fault(kind="ambiguous", method="POST", path=CLIENTS, times=1)
    api = await fb_world.api()

    with pytest.raises(AmbiguousWriteError):
        await api.request("POST", CLIENTS, json={"client": {"email": "lost@example.com"}})

    assert fb_world.counter.calls(CONNECTION) == 1  # never retried blindly
    found = await api.request("GET", CLIENTS, params=_search("email", "lost@example.com"))
    assert found.json()["response"]["result"]["total"] == 1  # the write did happen


@SQLITE_ONLY
async def test_gateway_error_on_a_write_is_ambiguous_but_503_is_retried(
    fb_world: FbWorld,
) -> None:
    api = await fb_world.api()
    await fb_world.fault(kind="error", status=500, method="POST", path=CLIENTS, times=1)
    with pytest.raises(AmbiguousWriteError):
        await api.request("POST", CLIENTS, json={"client": {"email": "a@example.com"}})
    await fb_world.fault(kind="error", status=503, method="POST", path=CLIENTS, times=1)
    created = await api.request("POST", CLIENTS, json={"client": {"email": "b@example.com"}})
    assert created.json()["response"]["result"]["client"]["email"] == "b@example.com"


@SQLITE_ONLY
async def test_unknown_record_is_skippable(fb_world: FbWorld) -> None:
    with pytest.raises(RecordGoneError) as caught:
        await (await fb_world.api()).request("GET", f"{CLIENTS}/999999")
    assert caught.value.remote_code == "1012"


async def test_revoked_connection_pauses_alerts_once_and_does_not_storm(
    fb_world: FbWorld,
) -> None:
    minted = await store_minted(fb_world)
    revoke = {
        "client_id": DEFAULT_APP.client_id,
        "client_secret": DEFAULT_APP.client_secret,
        "token": minted["refresh_token"],
    }
    assert (await fb_world.admin.post("/auth/oauth/revoke", json=revoke)).status_code == 200
    await fb_world.fault(kind="expired_token", path=CLIENTS)
    api = await fb_world.api()

    with capture_logs() as logs, pytest.raises(AuthError):
        await api.request("GET", CLIENTS)
    for _ in range(5):
        with pytest.raises(AuthError, match="paused"):
            await api.request("GET", CLIENTS)
    other = await (await fb_world.other_process()).freshbooks(CONNECTION)
    with pytest.raises(AuthError, match="paused"):
        await other.api.request("GET", CLIENTS)  # another process's token source too

    assert len(await fb_world.requests(TOKEN)) == 1
    async with fb_world.engine.connect() as db:
        stored = await load_connection(db, fb_world.cipher, CONNECTION)
        alerts = await list_alerts(db, connection_id=CONNECTION)
    assert stored is not None
    assert stored.status is ConnectionStatus.PAUSED
    assert [a.kind for a in alerts] == ["connection_auth_failed"]
    assert any(entry["event"] == "connection_paused" for entry in logs)
    assert minted["refresh_token"] not in repr(logs)


@SQLITE_ONLY
async def test_logs_carry_no_token(fb_world: FbWorld) -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(0))
    await fb_world.admin.post("/_sandbox/clock/advance", json={"seconds": 43_300})
    try:
        with capture_logs() as logs:
            await (await fb_world.api()).request("GET", CLIENTS)
    finally:
        structlog.reset_defaults()
    async with fb_world.engine.connect() as db:
        stored = await load_connection(db, fb_world.cipher, CONNECTION)
    assert stored is not None
    assert stored.tokens.access_token is not None
    assert {e["event"] for e in logs} >= {"api_call", "token_refreshed"}
    assert stored.tokens.access_token.get_secret_value() not in repr(logs)


def _search(field: str, value: str) -> object:
    import httpx  # noqa: PLC0415

    return httpx.QueryParams({f"search[{field}]": value})


@SQLITE_ONLY
async def test_token_in_its_last_tenth_is_refreshed_before_the_call(fb_world: FbWorld) -> None:
    await store_minted(fb_world, expires_in=60)
    runtime = await fb_world.runtime_on(fb_world.sandbox_clock())
    api = (await runtime.freshbooks(CONNECTION)).api
    await api.request("GET", CLIENTS)  # 60 s left of 60: not due
    await fb_world.admin.post("/_sandbox/clock/advance", json={"seconds": 55})
    await fb_world.admin.delete("/_sandbox/requests")

    await api.request("GET", CLIENTS)  # 5 s left: inside the last 6 s

    served = await fb_world.requests("/")
    assert [(r["path"], r["status"]) for r in served] == [(TOKEN, 200), (CLIENTS, 200)]
