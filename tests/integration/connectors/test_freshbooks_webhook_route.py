"""The web app's FreshBooks webhook route, fed by the sandbox's real, signed callback delivery."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from freshforce.connectors.freshbooks.client import RESOURCES
from freshforce.connectors.freshbooks.signature import SIGNATURE_HEADER
from freshforce.engine import JobStatus
from freshforce.sandbox.freshbooks.webhooks import sign
from freshforce.store.callbacks import load_verifiers, save_verifier
from freshforce.store.connections import NewConnection, Tokens, save_connection
from freshforce.store.schema import events, jobs, webhook_callbacks

from .conftest import CONNECTION, FbWorld, now
from .live_web import web_app

ACCOUNT = "SBX7QK"
KNOWN = "known-verifier-0123456789abcdef"


async def _until(check: Callable[[], Any], what: str) -> None:
    for _ in range(1500):  # 30 s: deliveries are prompt, but a loaded CI machine is slow
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def _count(world: FbWorld, table: sa.Table) -> int:
    async with world.engine.connect() as db:
        return int((await db.scalar(sa.select(sa.func.count()).select_from(table))) or 0)


async def test_sandbox_callback_is_verified_then_its_signed_deliveries_become_one_job(
    fb_world: FbWorld, live_url: str
) -> None:
    client = await fb_world.client()
    uri = f"{live_url}/webhooks/freshbooks/{CONNECTION}"
    callback = await client.register_callback("client.update", uri)

    async def verified() -> bool:
        return any(c.id == callback.id and c.verified for c in await client.list_callbacks())

    await _until(verified, "the route to confirm the callback")
    # The route stores the verifier once FreshBooks has accepted it: the sandbox shows the
    # callback verified a moment before that commit.

    async def saved() -> bool:
        return await _count(fb_world, webhook_callbacks) == 1

    await _until(saved, "the route to store the verifier")
    async with fb_world.engine.connect() as db:
        stored = (await db.execute(sa.select(webhook_callbacks))).one()
        verifiers = await load_verifiers(db, fb_world.cipher, CONNECTION)
    assert stored.callback_id == str(callback.id)
    assert len(verifiers) == 1
    assert verifiers[0].get_secret_value() not in stored.verifier_enc  # encrypted at rest

    made = await client.create(RESOURCES["clients"], {"email": "route@example.com"})
    for name in ("First", "Second"):
        await client.update(RESOURCES["clients"], made.id, {"fname": name})

    async def two_events() -> bool:
        return await _count(fb_world, events) >= 2

    await _until(two_events, "two stored deliveries")
    pending = await fb_world.runtime.queue().jobs(status=JobStatus.PENDING)
    assert [(j.flow, j.key) for j in pending] == [("clients", f"freshbooks/client/{made.id}")]


@pytest.fixture
async def asgi(fb_world: FbWorld) -> AsyncIterator[httpx.AsyncClient]:
    async with fb_world.engine.begin() as db:
        await save_verifier(db, fb_world.cipher, CONNECTION, "600001", SecretStr(KNOWN), now=now())
    transport = httpx.ASGITransport(app=web_app(fb_world))
    async with httpx.AsyncClient(transport=transport, base_url="http://ff.test") as web:
        yield web


def _delivery(**extra: str) -> dict[str, str]:
    form = {"name": "client.update", "object_id": "42", "account_id": ACCOUNT, "user_id": "1"}
    return {**form, **extra}


async def _post(
    web: httpx.AsyncClient,
    form: dict[str, str] | bytes,
    signature: str | None,
    name: str = CONNECTION,
) -> httpx.Response:
    body = form if isinstance(form, bytes) else urlencode(form).encode()
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    return await web.post(f"/webhooks/freshbooks/{name}", content=body, headers=headers)


async def test_a_delivery_signed_with_a_stored_verifier_is_stored_without_login(
    fb_world: FbWorld, asgi: httpx.AsyncClient
) -> None:
    form = _delivery()
    response = await _post(asgi, form, sign(KNOWN, form))
    assert response.status_code == 200, response.text
    assert await _count(fb_world, events) == 1
    assert await _count(fb_world, jobs) == 1


async def test_forged_unsigned_malformed_foreign_and_unknown_posts_store_nothing(
    fb_world: FbWorld, asgi: httpx.AsyncClient
) -> None:
    form = _delivery()
    tampered = urlencode(_delivery(object_id="43")).encode()
    other_account = _delivery(account_id="SOMEONE")
    other = NewConnection("sf-x", "salesforce", Tokens(None, None, None), instance_url="http://x")
    async with fb_world.engine.begin() as db:
        await save_connection(db, fb_world.cipher, other, now=now())

    answers = [
        (await _post(asgi, form, sign("a-guessed-verifier", form))).status_code,
        (await _post(asgi, tampered, sign(KNOWN, form))).status_code,
        (await _post(asgi, form, None)).status_code,
        (await _post(asgi, form, "not base64 at all")).status_code,
        (await _post(asgi, b"\xff\xfe not a form", sign(KNOWN, form))).status_code,
        (await _post(asgi, {"object_id": "42"}, None)).status_code,
        (await _post(asgi, other_account, sign(KNOWN, other_account))).status_code,
        (await _post(asgi, form, sign(KNOWN, form), name="nobody")).status_code,
        (await _post(asgi, form, sign(KNOWN, form), name="sf-x")).status_code,
        (await _post(asgi, b"name=x&" + b"a" * 20_000, None)).status_code,
    ]

    assert answers == [401, 401, 401, 401, 400, 400, 403, 404, 404, 413]
    assert await _count(fb_world, events) == 0
    assert await _count(fb_world, jobs) == 0
    assert (await _post(asgi, form, sign(KNOWN, form))).status_code == 200
    metrics = (await asgi.get("/metrics")).text
    assert 'freshforce_webhooks_total{outcome="rejected",status="401"} 4.0' in metrics
    assert 'freshforce_webhooks_total{outcome="rejected",status="404"} 2.0' in metrics
    assert 'freshforce_webhooks_total{outcome="accepted",status="200"} 1.0' in metrics


async def test_a_verification_freshbooks_refuses_stores_no_verifier(
    fb_world: FbWorld, asgi: httpx.AsyncClient
) -> None:
    client = await fb_world.client()
    callback = await client.register_callback("client.create", "http://127.0.0.1:9/unused")
    hello = {
        "name": "callback.verify",
        "object_id": str(callback.id),
        "verifier": "not-the-verifier",
        "account_id": ACCOUNT,
    }
    bad_id = {**hello, "object_id": "abc"}

    refused = await _post(asgi, hello, None)
    malformed = await _post(asgi, bad_id, None)

    assert (refused.status_code, malformed.status_code) == (400, 400)
    assert "not-the-verifier" not in refused.text
    async with fb_world.engine.connect() as db:
        ids = (await db.scalars(sa.select(webhook_callbacks.c.callback_id))).all()
    assert list(ids) == ["600001"]  # only the fixture's
    assert not any(c.verified for c in await client.list_callbacks())


async def test_a_delivery_is_recorded_under_its_connections_tenant(
    fb_world: FbWorld, asgi: httpx.AsyncClient
) -> None:
    acme = NewConnection("fb-acme", "freshbooks", Tokens(None, None, None), "acme", ACCOUNT)
    async with fb_world.engine.begin() as db:
        await save_connection(db, fb_world.cipher, acme, now=now())
        await save_verifier(db, fb_world.cipher, "fb-acme", "600002", SecretStr(KNOWN), now=now())
    form = _delivery()
    for name in (CONNECTION, "fb-acme"):
        response = await _post(asgi, form, sign(KNOWN, form), name)
        assert response.status_code == 200, response.text
    async with fb_world.engine.connect() as db:
        stored = sorted((await db.execute(sa.select(events.c.tenant, events.c.record_id))).all())
        queued = sorted((await db.execute(sa.select(jobs.c.tenant, jobs.c.key))).all())
    assert stored == [("acme", "42"), ("default", "42")]
    assert queued == [("acme", "freshbooks/client/42"), ("default", "freshbooks/client/42")]
