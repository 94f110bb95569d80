"""The shared sandbox machinery, driven through a minimal vendor app over HTTP."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from freshforce.sandbox.core import (
    DeliveryMode,
    DeliveryRetryPolicy,
    DroppedConnectionError,
    FaultResponse,
    FaultRule,
    Outgoing,
    SandboxRuntime,
    SandboxServer,
    attribute_request,
    generate_certificate,
    install,
)


class Renderer:
    def render_fault(self, rule: FaultRule, path: str) -> FaultResponse:
        if rule.kind == "rate_limit":
            return FaultResponse(
                429, {"vendor": "slow down"}, (("Retry-After", str(rule.retry_after)),)
            )
        if rule.kind == "expired_token":
            return FaultResponse(401, {"vendor": "expired"})
        if rule.kind == "limit_exhausted":
            return FaultResponse(403, {"vendor": "quota"})
        return FaultResponse(rule.status or 503, {"vendor": "down", "path": path})


class Control:
    def __init__(self) -> None:
        self.notes: list[str] = []

    def reset(self) -> None:
        self.notes.clear()

    def seed(self, records: int, seed: int) -> dict[str, int]:
        self.notes.extend(f"n{seed}-{i}" for i in range(records))
        return {"notes": records}

    def snapshot(self) -> dict[str, Any]:
        return {"notes": list(self.notes)}

    def mint_token(self, user: str | None, expires_in: int | None) -> dict[str, Any]:
        if user == "ghost":
            raise LookupError("no user ghost")
        return {"access_token": f"tok-{user}", "expires_in": expires_in or 60}


def build(runtime: SandboxRuntime) -> tuple[FastAPI, Control]:
    app = FastAPI()
    control = Control()

    @app.post("/notes")
    async def add(request: Request) -> dict[str, Any]:
        attribute_request(request, "u1", "c1")
        body = await request.json()
        control.notes.append(body["note"])
        return {"count": len(control.notes), "access_token": "secret-out"}

    install(app, runtime, control, Renderer())
    return app, control


@pytest.fixture
async def runtime() -> AsyncIterator[SandboxRuntime]:
    rt = SandboxRuntime.create(seed=7, retry=DeliveryRetryPolicy(attempts=3, backoff_seconds=0.01))
    yield rt
    await rt.aclose()


@pytest.fixture
async def client(runtime: SandboxRuntime) -> AsyncIterator[tuple[httpx.AsyncClient, Control]]:
    app, control = build(runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sb") as http:
        yield http, control


async def add_fault(http: httpx.AsyncClient, **rule: Any) -> dict[str, Any]:
    response = await http.post("/_sandbox/faults", json=rule)
    assert response.status_code == 201, response.text
    return response.json()


async def test_counted_error_fires_exactly_n_times(client) -> None:
    http, control = client
    await add_fault(http, kind="error", method="POST", path="/notes", times=2, status=502)
    statuses = [(await http.post("/notes", json={"note": "x"})).status_code for _ in range(3)]
    assert statuses == [502, 502, 200]
    assert control.notes == ["x"]
    assert (await http.get("/_sandbox/faults")).json() == {"faults": []}


async def test_rate_limit_carries_retry_after_and_vendor_body(client) -> None:
    http, _ = client
    await add_fault(http, kind="rate_limit", path="/no*", retry_after=9)
    response = await http.post("/notes", json={"note": "x"})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "9"
    assert response.json() == {"vendor": "slow down"}


async def test_regex_and_method_must_match(client) -> None:
    http, control = client
    await add_fault(http, kind="expired_token", method="GET", path=r"^/notes$", regex=True)
    assert (await http.post("/notes", json={"note": "a"})).status_code == 200
    await add_fault(http, kind="limit_exhausted", method="POST", path=r"^/not", regex=True)
    assert (await http.post("/notes", json={"note": "b"})).status_code == 403
    assert control.notes == ["a"]


async def test_probability_is_seeded_and_deterministic() -> None:
    outcomes = []
    for _ in range(2):
        rt = SandboxRuntime.create(seed=3)
        rt.faults.add(FaultRule(kind="error", probability=0.5))
        outcomes.append([bool(rt.faults.fire("GET", "/x")) for _ in range(40)])
    assert outcomes[0] == outcomes[1]
    assert 5 < sum(outcomes[0]) < 35


async def test_drop_loses_request_and_ambiguous_commits_it(client) -> None:
    http, control = client
    await add_fault(http, kind="drop", path="/notes", times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        await http.post("/notes", json={"note": "dropped"})
    assert control.notes == []
    await add_fault(http, kind="ambiguous", path="/notes", times=1)
    with pytest.raises(DroppedConnectionError):
        await http.post("/notes", json={"note": "committed"})
    assert control.notes == ["committed"]


async def test_latency_delays_the_answer(client) -> None:
    http, _ = client
    await add_fault(http, kind="latency", latency_ms=150)
    loop = asyncio.get_running_loop()
    start = loop.time()
    assert (await http.post("/notes", json={"note": "x"})).status_code == 200
    assert loop.time() - start >= 0.14


async def test_request_log_redacts_secrets_and_filters(client) -> None:
    http, _ = client
    await http.post(
        "/notes",
        json={"note": "hi", "client_secret": "s3cret"},
        headers={"Authorization": "Bearer tok123", "Sforce-Call-Options": "client=freshforce"},
    )
    await add_fault(http, kind="error", path="/notes", times=1)
    await http.post("/notes", json={"note": "x"})
    log = (await http.get("/_sandbox/requests", params={"user": "u1"})).json()["requests"]
    assert len(log) == 1
    entry = log[0]
    assert entry["client"] == "c1"
    assert entry["status"] == 200
    assert entry["headers"]["authorization"] == "Bearer ***"
    assert entry["headers"]["sforce-call-options"] == "client=freshforce"
    assert "s3cret" not in entry["request_body"]
    assert "secret-out" not in entry["response_body"]
    assert '"note":"hi"' in entry["request_body"]
    everything = (await http.get("/_sandbox/requests", params={"path": "/notes"})).json()
    statuses = [(e["status"], e["fault"]) for e in everything["requests"]]
    assert statuses == [(200, None), (503, "error")]
    assert (await http.get("/_sandbox/requests", params={"path": "/other"})).json()[
        "requests"
    ] == []


async def test_state_hooks_clock_and_reset(client, runtime: SandboxRuntime) -> None:
    http, _ = client
    assert (await http.post("/_sandbox/seed", json={"records": 2, "seed": 5})).json() == {
        "created": {"notes": 2}
    }
    assert (await http.get("/_sandbox/snapshot")).json() == {"notes": ["n5-0", "n5-1"]}
    token = await http.post("/_sandbox/tokens", json={"user": "u9", "expires_in": 5})
    assert token.json() == {"access_token": "tok-u9", "expires_in": 5}
    assert (await http.post("/_sandbox/tokens", json={"user": "ghost"})).status_code == 404
    before = runtime.clock.now()
    advanced = (await http.post("/_sandbox/clock/advance", json={"seconds": 3600})).json()
    assert advanced["offset_seconds"] == 3600
    assert (runtime.clock.now() - before).total_seconds() >= 3600
    await add_fault(http, kind="error")
    assert (await http.post("/_sandbox/reset")).status_code == 200
    assert (await http.get("/_sandbox/snapshot")).json() == {"notes": []}
    assert (await http.get("/_sandbox/faults")).json() == {"faults": []}
    assert (await http.get("/_sandbox/clock")).json()["offset_seconds"] == 0
    assert (await http.get("/_sandbox/requests")).json() == {"requests": []}


async def test_bad_admin_input_is_rejected_with_field(client) -> None:
    http, _ = client
    response = await http.post("/_sandbox/faults", json={"kind": "explode"})
    assert response.status_code == 422
    assert "kind" in response.text
    bad_regex = await http.post(
        "/_sandbox/faults", json={"kind": "error", "path": "(", "regex": True}
    )
    assert bad_regex.status_code == 422


def outgoing(n: int, url: str) -> Outgoing:
    body = f"name=thing&object_id={n}&verifier=hush".encode()
    headers = (("content-type", "application/x-www-form-urlencoded"),)
    return Outgoing(url=url, body=body, headers=headers, event="thing", object_id=str(n))


async def test_delivery_retries_after_failure(runtime: SandboxRuntime, receiver) -> None:
    receiver.statuses.extend([500, 503])
    runtime.deliveries.enqueue(outgoing(1, receiver.url))
    assert await runtime.deliveries.drain(5)
    assert len(receiver.bodies()) == 3
    attempts = runtime.deliveries.log.entries()
    assert [(a.attempt, a.outcome, a.status) for a in attempts] == [
        (1, "failed", 500),
        (2, "failed", 503),
        (3, "delivered", 200),
    ]
    assert "hush" not in attempts[0].body


async def test_delivery_gives_up_after_policy_attempts(runtime: SandboxRuntime, receiver) -> None:
    receiver.statuses.extend([500] * 5)
    runtime.deliveries.enqueue(outgoing(1, receiver.url))
    assert await runtime.deliveries.drain(5)
    assert [a.outcome for a in runtime.deliveries.log.entries()] == ["failed"] * 3


async def test_delivery_modes_lossy_duplicate_reorder(runtime: SandboxRuntime, receiver) -> None:
    runtime.deliveries.mode = DeliveryMode(lossy=1.0)
    runtime.deliveries.enqueue(outgoing(1, receiver.url))
    runtime.deliveries.mode = DeliveryMode(duplicate=1.0)
    runtime.deliveries.enqueue(outgoing(2, receiver.url))
    runtime.deliveries.mode = DeliveryMode(reorder_seconds=0.2)
    for n in range(3, 13):
        runtime.deliveries.enqueue(outgoing(n, receiver.url))
    assert await runtime.deliveries.drain(5)
    ids = [int(b.split(b"object_id=")[1].split(b"&")[0]) for b in receiver.bodies()]
    assert 1 not in ids
    assert ids[:2] == [2, 2]
    assert sorted(ids[2:]) == list(range(3, 13))
    assert ids[2:] != list(range(3, 13))
    outcomes = [a.outcome for a in runtime.deliveries.log.entries()]
    assert outcomes[0] == "dropped"


async def test_late_delivery_waits(runtime: SandboxRuntime, receiver) -> None:
    runtime.deliveries.mode = DeliveryMode(late_seconds=1.0)
    runtime.deliveries.enqueue(outgoing(1, receiver.url))
    await asyncio.sleep(0.1)
    assert receiver.bodies() == []
    assert await runtime.deliveries.drain(5)
    assert len(receiver.bodies()) == 1


def test_tls_server_serves_https_trusted_by_its_cert(tmp_path: Path) -> None:
    runtime = SandboxRuntime.create()
    app, _ = build(runtime)
    files = generate_certificate(tmp_path / "tls")
    server = SandboxServer(app, tls=files)
    server.start_in_thread()
    try:
        assert server.url.startswith("https://127.0.0.1:")
        context = ssl.create_default_context(cafile=str(files.cert))
        with httpx.Client(verify=context) as http:
            response = http.post(f"{server.url}/notes", json={"note": "tls"})
            assert response.json()["count"] == 1
            snapshot = http.get(server.url.replace("127.0.0.1", "localhost") + "/_sandbox/snapshot")
            assert snapshot.json() == {"notes": ["tls"]}
        with httpx.Client() as untrusted, pytest.raises(httpx.ConnectError):
            untrusted.get(f"{server.url}/_sandbox/snapshot")
    finally:
        server.stop()


def test_drop_over_a_socket_is_a_broken_connection() -> None:
    runtime = SandboxRuntime.create()
    app, control = build(runtime)
    runtime.faults.add(FaultRule(kind="ambiguous", path="/notes", times=1))
    server = SandboxServer(app)
    server.start_in_thread()
    try:
        with httpx.Client() as http:
            with pytest.raises(httpx.RemoteProtocolError):
                http.post(f"{server.url}/notes", json={"note": "lost answer"})
            assert control.notes == ["lost answer"]
            assert http.post(f"{server.url}/notes", json={"note": "ok"}).status_code == 200
    finally:
        server.stop()
