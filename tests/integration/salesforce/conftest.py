"""A Salesforce sandbox in process, a stored connection, and a connector client routed to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.connectors.core import CallCounter, RetryPolicy, build_http_client
from freshforce.connectors.oauth import BearerAuth, OAuthProvider, TokenSource
from freshforce.connectors.salesforce.client import SalesforceClient, SalesforceOrg
from freshforce.connectors.salesforce.governor import Governor, GovernorConfig
from freshforce.sandbox.core import SandboxRuntime
from freshforce.sandbox.salesforce.build import SalesforceSandbox, build_salesforce_sandbox
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
    runtime: SandboxRuntime
    sandbox: SalesforceSandbox
    transport: httpx.AsyncBaseTransport
    admin: httpx.AsyncClient
    governor: Governor
    client: SalesforceClient
    source: TokenSource
    counter: CallCounter
    sleeps: Sleeps

    @property
    def org_id(self) -> str:
        return self.sandbox.state.org_id

    def calls(self) -> int:
        return self.counter.calls(CONNECTION)

    def new_client(self, governor: Governor | None = None) -> SalesforceClient:
        return build_client(self, governor or self.governor)


def build_client(world: SfWorld, governor: Governor) -> SalesforceClient:
    http = build_http_client(INSTANCE, transport=world.transport, auth=BearerAuth(world.source))
    return SalesforceClient(
        http,
        SalesforceOrg(world.org_id),
        governor,
        connection_id=CONNECTION,
        retry=RetryPolicy(attempts=2, base_seconds=0, cap_seconds=0),
        counter=world.counter,
        sleep=world.sleeps,
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
    new = NewConnection(CONNECTION, "salesforce", tokens, remote_account=sandbox.state.org_id)
    async with engine.begin() as db:
        await save_connection(db, cipher, new, now=now())


@pytest.fixture
async def sf(store_engine: AsyncEngine) -> AsyncIterator[SfWorld]:
    runtime = SandboxRuntime.create(seed=7)
    sandbox = build_salesforce_sandbox(runtime, seed=7, daily_api_limit=100_000)
    cipher = TokenCipher([SecretStr(new_key())])
    await _connect(sandbox, store_engine, cipher)
    transport = httpx.ASGITransport(app=sandbox.app)
    provider = OAuthProvider(
        system="salesforce",
        authorize_url=f"{INSTANCE}/services/oauth2/authorize",
        token_url=f"{INSTANCE}/services/oauth2/token",
        client_id=sandbox.client_id,
        client_secret=SecretStr(sandbox.client_secret),
        redirect_uri=REDIRECT,
    )
    source = TokenSource(store_engine, cipher, CONNECTION, provider, clock=now, transport=transport)
    governor = Governor(GovernorConfig(reserve=0, step_fraction=0.0), clock=now)
    async with httpx.AsyncClient(transport=transport, base_url=INSTANCE) as admin:
        world = SfWorld(
            runtime,
            sandbox,
            transport,
            admin,
            governor,
            None,
            source,
            CallCounter(),
            Sleeps(),  # type: ignore[arg-type]
        )
        world.client = build_client(world, governor)
        yield world
        await world.client.api.http.aclose()
    await runtime.aclose()
