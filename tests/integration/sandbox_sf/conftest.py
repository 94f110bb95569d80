"""Fixtures for the Salesforce sandbox tests: the app in process, TLS servers, Pub/Sub."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import httpx
import pytest
import requests
from sforg import LiveOrg, Org, TlsOrg
from simple_salesforce import Salesforce

from freshforce.proto import pubsub_api_pb2_grpc as pb_grpc
from freshforce.sandbox.core import SandboxRuntime, SandboxServer, generate_certificate
from freshforce.sandbox.salesforce.build import build_salesforce_sandbox
from freshforce.sandbox.salesforce.pubsub import PubSubControls, attach_pubsub


@pytest.fixture
async def org() -> AsyncIterator[Org]:
    runtime = SandboxRuntime.create(seed=7)
    sandbox = build_salesforce_sandbox(runtime, seed=7)
    transport = httpx.ASGITransport(app=sandbox.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://sandbox.test") as http:
        response = await http.post("/_sandbox/tokens", json={})
        yield Org(sandbox, runtime, http, response.json()["access_token"])
    await runtime.aclose()


@pytest.fixture(scope="module")
def tls_org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsOrg]:
    tls = generate_certificate(tmp_path_factory.mktemp("tls"))
    runtime = SandboxRuntime.create(seed=11)
    sandbox = build_salesforce_sandbox(runtime, seed=11)
    server = SandboxServer(sandbox.app, tls=tls)
    server.start_in_thread()
    try:
        token = sandbox.sessions.mint(sandbox.state.admin_user_id).access_token
        yield TlsOrg(sandbox, server.url, tls.cert, token)
    finally:
        server.stop()


@pytest.fixture
async def live_org(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[LiveOrg]:
    """A multi-currency org: REST over TLS in a thread, Pub/Sub on this loop, real clients."""
    tls = generate_certificate(tmp_path)
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.setenv(name, str(tls.cert))
    runtime = SandboxRuntime.create(seed=5)
    sandbox = build_salesforce_sandbox(runtime, seed=5, multi_currency=True)
    runner = attach_pubsub(
        sandbox, clock=runtime.clock.now, controls=PubSubControls(keepalive_seconds=0.5)
    )
    serving = asyncio.create_task(runner.serve())
    await runner.wait_started()
    server = SandboxServer(sandbox.app, tls=tls)
    server.start_in_thread()
    token = sandbox.sessions.mint(sandbox.state.admin_user_id).access_token
    session = requests.Session()
    session.verify = str(tls.cert)
    # A refused call leaves its pooled connection open; closing each one lets the server stop.
    session.headers["Connection"] = "close"
    sf = Salesforce(instance_url=server.url, session_id=token, session=session, version="59.0")
    try:
        trust = ssl.create_default_context(cafile=str(tls.cert))
        with httpx.Client(base_url=server.url, verify=trust) as admin:
            async with grpc.aio.insecure_channel(runner.target) as channel:
                yield LiveOrg(sandbox, sf, pb_grpc.PubSubStub(channel), admin, token)
    finally:
        session.close()
        server.stop()
        runner.request_stop()
        await serving
        await runtime.aclose()
