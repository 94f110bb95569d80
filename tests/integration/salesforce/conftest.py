"""A Salesforce sandbox in process, a stored connection, and a connector client routed to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.connectors.core import CallCounter, CallRetryPolicy
from freshforce.connectors.oauth import TokenSource
from freshforce.connectors.salesforce.client import SalesforceClient
from freshforce.connectors.salesforce.governor import Governor, GovernorConfig
from freshforce.runtime import Runtime
from freshforce.sandbox.core import SandboxRuntime
from freshforce.sandbox.salesforce.build import SalesforceSandbox, build_salesforce_sandbox
from freshforce.settings import Settings
from freshforce.store.connections import NewConnection, Tokens, save_connection
from freshforce.store.crypto import TokenCipher, new_key

INSTANCE = "https://sandbox.my.salesforce.com"
CONNECTION = "sf-1"
REDIRECT = "http://127.0.0.1:8765/callback"


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Sleeps:
    waits: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@dataclass
class SfWorld:
    runtime: SandboxRuntime  # the sandbox's clock, faults and servers
    sandbox: SalesforceSandbox
    transport: httpx.AsyncBaseTransport
    admin: httpx.AsyncClient
    app: Runtime  # freshforce's runtime, built from settings that point at the sandbox
    client: SalesforceClient
    sleeps: Sleeps
    others: list[Runtime] = field(default_factory=list)

    @property
    def org_id(self) -> str:
        return self.sandbox.state.org_id

    @property
    def governor(self) -> Governor:
        return self.app.governor

    @property
    def source(self) -> TokenSource:
        return self.app.token_source(CONNECTION, "salesforce")

    @property
    def counter(self) -> CallCounter:
        return self.app.counter

    def calls(self) -> int:
        """Remote calls made by this runtime and every other one the test opened."""
        return sum(rt.counter.calls(CONNECTION) for rt in (self.app, *self.others))

    async def new_client(self, **parts: Any) -> SalesforceClient:
        """A client of another process on the same store (``parts``: its clock, governor)."""
        other = await open_runtime(self.app.settings, self.transport, self.sleeps, **parts)
        self.others.append(other)
        return await other.salesforce(CONNECTION)


async def open_runtime(
    settings: Settings, transport: httpx.AsyncBaseTransport, sleeps: Sleeps, **parts: Any
) -> Runtime:
    defaults: dict[str, Any] = {
        "clock": now,
        "governor_config": GovernorConfig(reserve=0, step_fraction=0.0),
    }
    return await Runtime.open(
        settings,
        transport=transport,
        sleep=sleeps,
        call_retry=CallRetryPolicy(attempts=2, base_seconds=0, cap_seconds=0),
        **(defaults | parts),
    )


async def _connect(sandbox: SalesforceSandbox, engine: AsyncEngine, cipher: TokenCipher) -> None:
    """What `freshforce connect salesforce` leaves behind: tokens from the code flow, stored."""
    sessions = sandbox.sessions
    code = sessions.authorize(
        sandbox.client_id, REDIRECT, sandbox.state.admin_user_id, "api refresh_token"
    )
    grant = sessions.exchange_code(sandbox.client_id, sandbox.client_secret, code, REDIRECT)
    assert grant.refresh_token is not None
    tokens = Tokens(SecretStr(grant.session.access_token), SecretStr(grant.refresh_token), None)
    new = NewConnection(
        CONNECTION,
        "salesforce",
        tokens,
        remote_account=sandbox.state.org_id,
        instance_url=INSTANCE,
    )
    async with engine.begin() as db:
        await save_connection(db, cipher, new, now=now())


@pytest.fixture
async def sf(database_url: str, store_engine: AsyncEngine) -> AsyncIterator[SfWorld]:
    del store_engine  # migrated by the fixture; the runtime opens its own engine on it
    runtime = SandboxRuntime.create(seed=7)
    sandbox = build_salesforce_sandbox(runtime, seed=7, daily_api_limit=100_000)
    settings = Settings(
        database_url=database_url,
        encryption_keys=[SecretStr(new_key())],
        salesforce_login_url=INSTANCE,
        salesforce_client_id=sandbox.client_id,
        salesforce_client_secret=SecretStr(sandbox.client_secret),
        salesforce_redirect_uri=REDIRECT,
    )
    transport = httpx.ASGITransport(app=sandbox.app)
    sleeps = Sleeps()
    app = await open_runtime(settings, transport, sleeps)
    await _connect(sandbox, app.engine, app.cipher)
    async with httpx.AsyncClient(transport=transport, base_url=INSTANCE) as admin:
        world = SfWorld(
            runtime, sandbox, transport, admin, app, await app.salesforce(CONNECTION), sleeps
        )
        yield world
    for other in world.others:
        await other.aclose()
    await app.aclose()
    await runtime.aclose()
