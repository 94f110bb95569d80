"""Fixtures for the Salesforce sandbox tests: the app in process, a token, a TLS server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sforg import Org, TlsOrg

from freshforce.sandbox.core import SandboxRuntime, SandboxServer, generate_certificate
from freshforce.sandbox.salesforce.build import build_salesforce_sandbox


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
