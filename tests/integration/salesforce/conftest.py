"""A Salesforce sandbox in process and a connector client routed to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest

from freshforce.connectors.salesforce.client import SalesforceClient, SalesforceOrg
from freshforce.connectors.salesforce.governor import Governor, GovernorConfig
from freshforce.sandbox.core import SandboxRuntime
from freshforce.sandbox.salesforce.build import SalesforceSandbox, build_salesforce_sandbox


@dataclass
class SfWorld:
    runtime: SandboxRuntime
    sandbox: SalesforceSandbox
    http: httpx.AsyncClient
    governor: Governor
    client: SalesforceClient
    token: str

    @property
    def org_id(self) -> str:
        return self.sandbox.state.org_id

    def calls(self) -> int:
        return sum(self.governor.snapshot(self.org_id).admitted.values())


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
async def sf() -> AsyncIterator[SfWorld]:
    runtime = SandboxRuntime.create(seed=7)
    sandbox = build_salesforce_sandbox(runtime, seed=7, daily_api_limit=100_000)
    token = sandbox.sessions.mint(sandbox.state.admin_user_id).access_token
    governor = Governor(GovernorConfig(reserve=0, step_fraction=0.0), clock=_now)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox.app),
        base_url="https://sandbox.my.salesforce.com",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ) as http:
        client = SalesforceClient(http, SalesforceOrg(sandbox.state.org_id), governor)
        yield SfWorld(runtime, sandbox, http, governor, client, token)
    await runtime.aclose()
