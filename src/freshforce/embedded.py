"""Both sandboxes in this process, a runtime routed to them, and both connections stored.

The benchmarks and the flows' tests start here: no sockets for the remote calls (one
:class:`~freshforce.sandbox.router.HostRouter` over the two ASGI apps), the store on the
given database, a FreshBooks connection and a Salesforce connection of tenant ``default``
made from tokens the sandboxes mint, and a second FreshBooks token for "a person" editing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import SecretStr

from freshforce.connectors.core import CallRetryPolicy
from freshforce.connectors.salesforce.governor import GovernorConfig
from freshforce.engine import RetryPolicy
from freshforce.runtime import Runtime
from freshforce.sandbox.core import SandboxRuntime
from freshforce.sandbox.freshbooks import DEFAULT_APP, FreshBooksOptions, build_freshbooks
from freshforce.sandbox.router import HostRouter
from freshforce.sandbox.salesforce.build import build_salesforce_sandbox
from freshforce.settings import Settings
from freshforce.store.connections import NewConnection, Tokens, save_connection
from freshforce.store.crypto import new_key

if TYPE_CHECKING:
    from freshforce.sandbox.freshbooks import FreshBooksSandbox
    from freshforce.sandbox.salesforce.build import SalesforceSandbox

__all__ = ["FB_ACCOUNT", "FB_API", "SF_INSTANCE", "Embedded", "open_embedded"]

FB_API = "http://fb.test"
SF_INSTANCE = "https://sandbox.my.salesforce.com"
FB_ACCOUNT = "SBX7QK"  # the FreshBooks sandbox's account id for seed 7
FB_CONNECTION, SF_CONNECTION = "fb-main", "sf-main"
_REDIRECT = "http://127.0.0.1:8765/callback"


@dataclass
class Embedded:
    """The two sandboxes, their transports and admin clients, and freshforce's runtime."""

    runtime: Runtime
    sandboxes: SandboxRuntime
    freshbooks: FreshBooksSandbox
    salesforce: SalesforceSandbox
    fb_transport: httpx.AsyncBaseTransport
    sf_transport: httpx.AsyncBaseTransport
    fb_admin: httpx.AsyncClient
    sf_admin: httpx.AsyncClient
    fb_user: httpx.AsyncClient  # a person's own FreshBooks API client

    async def aclose(self) -> None:
        for client in (self.fb_user, self.fb_admin, self.sf_admin):
            await client.aclose()
        await self.runtime.aclose()
        await self.sandboxes.aclose()


def _settings(database_url: str, config_dir: Path, sf: SalesforceSandbox, **more: Any) -> Settings:  # noqa: ANN401
    return Settings(
        database_url=database_url,
        encryption_keys=[SecretStr(new_key())],
        config_dir=config_dir,
        freshbooks_api_url=FB_API,
        freshbooks_client_id=DEFAULT_APP.client_id,
        freshbooks_client_secret=SecretStr(DEFAULT_APP.client_secret),
        salesforce_login_url=SF_INSTANCE,
        salesforce_client_id=sf.client_id,
        salesforce_client_secret=SecretStr(sf.client_secret),
        salesforce_redirect_uri=_REDIRECT,
        **more,
    )


async def open_embedded(
    database_url: str,
    config_dir: Path,
    *,
    seed: int = 7,
    **settings: Any,  # noqa: ANN401
) -> Embedded:
    """Start both sandboxes in process and a runtime on ``database_url`` connected to them."""
    sandboxes = SandboxRuntime.create(seed)
    fb = build_freshbooks(FreshBooksOptions(seed=seed), sandboxes)
    sf = build_salesforce_sandbox(sandboxes, seed=seed, daily_api_limit=10_000_000)
    fb_transport = httpx.ASGITransport(app=fb.app)
    sf_transport = httpx.ASGITransport(app=sf.app)
    hosts = {"fb.test": fb_transport, "sandbox.my.salesforce.com": sf_transport}
    runtime = await Runtime.open(
        _settings(database_url, config_dir, sf, **settings),
        transport=HostRouter(hosts),
        call_retry=CallRetryPolicy(attempts=3, base_seconds=0, cap_seconds=0),
        job_retry=RetryPolicy.zero_wait(),
        governor_config=GovernorConfig(reserve=0, step_fraction=0.0),
    )
    fb_admin = httpx.AsyncClient(transport=fb_transport, base_url=FB_API)
    sf_admin = httpx.AsyncClient(transport=sf_transport, base_url=SF_INSTANCE)
    ours = (await fb_admin.post("/_sandbox/tokens", json={})).json()
    theirs = (await fb_admin.post("/_sandbox/tokens", json={})).json()
    code = sf.sessions.authorize(
        sf.client_id, _REDIRECT, sf.state.admin_user_id, "api refresh_token"
    )
    grant = sf.sessions.exchange_code(sf.client_id, sf.client_secret, code, _REDIRECT)
    now = datetime.now(UTC)
    fb_tokens = Tokens(
        SecretStr(ours["access_token"]),
        SecretStr(ours["refresh_token"]),
        now + timedelta(seconds=ours["expires_in"]),
    )
    refresh = SecretStr(grant.refresh_token) if grant.refresh_token else None
    sf_tokens = Tokens(SecretStr(grant.session.access_token), refresh, None)
    async with runtime.engine.begin() as db:
        fb_conn = NewConnection(FB_CONNECTION, "freshbooks", fb_tokens, remote_account=FB_ACCOUNT)
        await save_connection(db, runtime.cipher, fb_conn, now=now)
        sf_conn = NewConnection(
            SF_CONNECTION,
            "salesforce",
            sf_tokens,
            remote_account=sf.state.org_id,
            instance_url=SF_INSTANCE,
        )
        await save_connection(db, runtime.cipher, sf_conn, now=now)
    fb_user = httpx.AsyncClient(
        transport=fb_transport,
        base_url=FB_API,
        headers={"Authorization": f"Bearer {theirs['access_token']}"},
    )
    return Embedded(
        runtime, sandboxes, fb, sf, fb_transport, sf_transport, fb_admin, sf_admin, fb_user
    )
