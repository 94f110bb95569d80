"""Starting every vendor sandbox on one event loop and announcing URLs and credentials.

Vendors are a small list (``VENDORS``): each entry builds its servers from the shared
``SandboxSettings`` and returns what to print. Salesforce runs two servers on one org: REST/OAuth
over HTTP and the Pub/Sub API over gRPC. The state file, latency, auto-approve and token
lifetime settings apply to every vendor alike.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Protocol

from freshforce.sandbox.core import FaultRule, SandboxRuntime, SandboxServer, TlsFiles
from freshforce.sandbox.core.server import ListenError
from freshforce.sandbox.freshbooks import DEFAULT_APP, FreshBooksOptions, build_freshbooks
from freshforce.sandbox.multi import (
    PubSubOrgs,
    build_freshbooks_accounts,
    build_salesforce_orgs,
)
from freshforce.sandbox.salesforce.build import SalesforceSandbox, build_salesforce_sandbox
from freshforce.sandbox.salesforce.persist import SaveAfterWrites, load_state, save_state
from freshforce.sandbox.salesforce.pubsub import PubSubRunner, attach_pubsub

__all__ = [
    "VENDORS",
    "SandboxSettings",
    "Serving",
    "StartedVendor",
    "build_vendors",
    "run_sandboxes",
    "wait_started",
]


@dataclass(frozen=True)
class SandboxSettings:
    """Everything the command line decides, shared by all vendors."""

    host: str = "127.0.0.1"
    freshbooks_port: int = 8101
    salesforce_port: int = 8102
    pubsub_port: int = 8103
    tls: TlsFiles | None = None
    seed: int = 42
    records: int = 0
    state_file: Path | None = None
    latency_ms: int = 0
    auto_approve: bool = False
    # Access-token lifetime in seconds; None keeps each vendor's own (FreshBooks 12 h, Salesforce
    # sessions 2 h).
    token_lifetime: int | None = None
    multi_currency: bool = True
    # FreshBooks accounts and Salesforce orgs served at once (``--accounts``); 1 is one of each.
    accounts: int = 1

    def state_file_for(self, vendor: str) -> Path | None:
        """Return the vendor's file beside ``--state-file``: ``s.json`` -> ``s.freshbooks.json``."""
        if self.state_file is None:
            return None
        return self.state_file.with_name(
            f"{self.state_file.stem}.{vendor}{self.state_file.suffix or '.json'}"
        )


class Serving(Protocol):
    """A server run on the command's loop: HTTP (``SandboxServer``) or gRPC (Pub/Sub)."""

    @property
    def started(self) -> bool: ...

    async def serve(self) -> None: ...

    def request_stop(self) -> None: ...


@dataclass(frozen=True)
class StartedVendor:
    """A vendor's servers (not yet serving), what to print once they are, and its cleanup."""

    name: str
    servers: tuple[Serving, ...]
    describe: Callable[[], list[str]]
    aclose: Callable[[], Awaitable[None]]


def _freshbooks(settings: SandboxSettings) -> StartedVendor:
    if settings.accounts > 1:
        return _freshbooks_accounts(settings)
    built = build_freshbooks(
        FreshBooksOptions(
            seed=settings.seed,
            records=settings.records,
            auto_approve=settings.auto_approve,
            token_lifetime=settings.token_lifetime or FreshBooksOptions.token_lifetime,
            state_file=settings.state_file_for("freshbooks"),
            latency_ms=settings.latency_ms,
        )
    )
    server = SandboxServer(built.app, settings.host, settings.freshbooks_port, settings.tls)

    def describe() -> list[str]:
        token = built.state.mint_token(None, None)
        identity = built.state.find_identity(None)
        return [
            f"FreshBooks sandbox   {server.url}",
            f"  FRESHBOOKS_API_URL={server.url}",
            f"  FRESHBOOKS_AUTH_URL={server.url}",
            f"  client_id          {DEFAULT_APP.client_id}",
            f"  client_secret      {DEFAULT_APP.client_secret}",
            f"  account_id         {identity.account_id}",
            f"  access_token       {token['access_token']}",
            f"  refresh_token      {token['refresh_token']}",
            f"  admin              {server.url}/_sandbox/snapshot",
        ]

    return StartedVendor("freshbooks", (server,), describe, built.runtime.aclose)


def _freshbooks_accounts(settings: SandboxSettings) -> StartedVendor:
    options = FreshBooksOptions(
        seed=settings.seed,
        records=settings.records,
        auto_approve=settings.auto_approve,
        token_lifetime=settings.token_lifetime or FreshBooksOptions.token_lifetime,
        latency_ms=settings.latency_ms,
    )
    accounts = build_freshbooks_accounts(settings.accounts, options)
    server = SandboxServer(accounts, settings.host, settings.freshbooks_port, settings.tls)

    def describe() -> list[str]:
        first = accounts.accounts[0].state
        token = first.mint_token(None, None)
        last = accounts.accounts[-1].state.owner
        return [
            f"FreshBooks sandbox   {server.url}  ({settings.accounts} accounts)",
            f"  FRESHBOOKS_API_URL={server.url}",
            f"  FRESHBOOKS_AUTH_URL={server.url}",
            f"  client_id          {DEFAULT_APP.client_id}",
            f"  client_secret      {DEFAULT_APP.client_secret}",
            f"  accounts           {first.owner.account_id} … {last.account_id}",
            f"  owners             {first.owner.email} … {last.email}",
            f"  account 0 token    {token['access_token']}",
            f"  accounts list      {server.url}/_sandbox/accounts",
            f"  admin of account n {server.url}/_sandbox/accounts/<n>/snapshot",
        ]

    return StartedVendor("freshbooks", (server,), describe, accounts.aclose)


def _salesforce(settings: SandboxSettings) -> StartedVendor:
    if settings.accounts > 1:
        return _salesforce_orgs(settings)
    runtime = SandboxRuntime.create(seed=settings.seed)
    built = build_salesforce_sandbox(
        runtime,
        seed=settings.seed,
        records=settings.records,
        multi_currency=settings.multi_currency,
    )
    _apply_salesforce_settings(built, runtime, settings)
    rest = SandboxServer(built.app, settings.host, settings.salesforce_port, settings.tls)
    pubsub = attach_pubsub(
        built,
        clock=runtime.clock.now,
        seed=settings.seed,
        host=settings.host,
        port=settings.pubsub_port,
        tls=settings.tls,
    )

    def describe() -> list[str]:
        token = built.sessions.mint(built.state.admin_user_id).access_token
        channel = "TLS, same CA" if settings.tls else "plaintext"
        return [
            f"Salesforce sandbox   {rest.url}",
            f"  instance_url       {rest.url}",
            f"  client_id          {built.client_id}",
            f"  client_secret      {built.client_secret}",
            f"  username           {built.username}",
            f"  password           {built.password}",
            f"  org_id             {built.state.org_id}",
            f"  access_token       {token}",
            f"  admin              {rest.url}/_sandbox/snapshot",
            f"Salesforce Pub/Sub   {pubsub.target} (gRPC, {channel})",
            f"  admin              {rest.url}/_sandbox/pubsub",
        ]

    return StartedVendor("salesforce", (rest, pubsub), describe, runtime.aclose)


def _salesforce_orgs(settings: SandboxSettings) -> StartedVendor:
    orgs, runtimes = build_salesforce_orgs(
        settings.accounts,
        seed=settings.seed,
        records=settings.records,
        multi_currency=settings.multi_currency,
    )
    built = list(orgs.orgs)
    runners = []
    for n, (org, runtime) in enumerate(zip(built, runtimes, strict=True)):
        _apply_salesforce_settings(org, runtime, settings)
        runners.append(attach_pubsub(org, clock=runtime.clock.now, seed=settings.seed + n))
    rest = SandboxServer(orgs, settings.host, settings.salesforce_port, settings.tls)
    services = PubSubOrgs([r.service for r in runners], [org.state.org_id for org in built])
    pubsub = PubSubRunner(
        services, runners[0].controls, settings.host, settings.pubsub_port, settings.tls
    )

    def describe() -> list[str]:
        first = built[0]
        token = first.sessions.mint(first.state.admin_user_id).access_token
        return [
            f"Salesforce sandbox   {rest.url}  ({settings.accounts} orgs)",
            f"  instance_url       {rest.url}/orgs/<n> (org 0 also {rest.url})",
            f"  client_id          {first.client_id}",
            f"  client_secret      {first.client_secret}",
            f"  usernames          {first.username} … {built[-1].username}",
            f"  password           {first.password}",
            f"  org 0 access_token {token}",
            f"  orgs list          {rest.url}/_sandbox/orgs",
            f"  admin of org n     {rest.url}/orgs/<n>/_sandbox/snapshot",
            f"Salesforce Pub/Sub   {pubsub.target} (gRPC, every org; by tenantid)",
        ]

    async def aclose() -> None:
        for runtime in runtimes:
            await runtime.aclose()

    return StartedVendor("salesforce", (rest, pubsub), describe, aclose)


def _apply_salesforce_settings(
    built: SalesforceSandbox, runtime: SandboxRuntime, settings: SandboxSettings
) -> None:
    if settings.token_lifetime is not None:
        built.sessions.session_timeout = timedelta(seconds=settings.token_lifetime)
    if settings.auto_approve:
        built.sessions.auto_approve_user = built.state.admin_user_id
    if settings.latency_ms:
        runtime.faults.add(FaultRule(kind="latency", latency_ms=settings.latency_ms))
    path = settings.state_file_for("salesforce")
    if path is not None:
        if not load_state(built.state, built.sessions, path):
            save_state(built.state, built.sessions, path)
        built.app.add_middleware(
            SaveAfterWrites, save=lambda: save_state(built.state, built.sessions, path)
        )


VENDORS: tuple[tuple[str, Callable[[SandboxSettings], StartedVendor]], ...] = (
    ("freshbooks", _freshbooks),
    ("salesforce", _salesforce),
)


def build_vendors(settings: SandboxSettings) -> list[StartedVendor]:
    """Build every vendor's servers; if a port cannot be bound, release the others and raise."""
    vendors: list[StartedVendor] = []
    try:
        for _, start in VENDORS:
            vendors.append(start(settings))
    except ListenError:
        for server in (s for vendor in vendors for s in vendor.servers):
            if isinstance(server, SandboxServer):
                server.close()
        raise
    return vendors


async def run_sandboxes(settings: SandboxSettings, echo: Callable[[str], None]) -> None:
    """Serve every vendor until SIGINT/SIGTERM; print URLs and credentials once all listen."""
    vendors = build_vendors(settings)
    servers = [server for vendor in vendors for server in vendor.servers]
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _stop_all, servers)
    tasks = [asyncio.create_task(server.serve()) for server in servers]
    await wait_started(servers, tasks)
    _announce(settings, vendors, echo)
    await asyncio.gather(*tasks)


async def wait_started(servers: list[Serving], tasks: list[asyncio.Task[None]]) -> None:
    """Return once every server listens; if one fails to start, stop the rest and raise why."""
    while not all(server.started for server in servers):
        failed = [task for task in tasks if task.done()]
        if failed:
            _stop_all(servers)
            await asyncio.gather(*tasks, return_exceptions=True)
            await failed[0]  # re-raises why the server could not start (a port in use, ...)
            msg = "a sandbox server stopped while starting"
            raise RuntimeError(msg)
        await asyncio.sleep(0.02)


def _stop_all(servers: list[Serving]) -> None:
    for server in servers:
        server.request_stop()


def _announce(
    settings: SandboxSettings, vendors: list[StartedVendor], echo: Callable[[str], None]
) -> None:
    for vendor in vendors:
        for line in vendor.describe():
            echo(line)
    if settings.tls is not None:
        echo(f"TLS CA file          {settings.tls.cert}")
    echo("Ready. Ctrl-C stops.")
