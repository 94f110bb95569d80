"""The ``freshforce sandbox`` command: start every vendor sandbox, print URLs and credentials.

Vendors are a small list (``VENDORS``): each entry builds its servers from the shared
``SandboxSettings`` and returns what to print. The Salesforce servers join the list when they
exist; until then the command starts FreshBooks alone and says so.
"""

from __future__ import annotations

import asyncio
import signal
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, cast

import typer

from freshforce.sandbox.core import SandboxServer, TlsFiles, generate_certificate
from freshforce.sandbox.freshbooks import DEFAULT_APP, FreshBooksOptions, build_freshbooks

__all__ = ["VENDORS", "SandboxSettings", "StartedVendor", "sandbox"]


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
    token_lifetime: int = 43_200

    def state_file_for(self, vendor: str) -> Path | None:
        """Return the vendor's file beside ``--state-file``: ``s.json`` -> ``s.freshbooks.json``."""
        if self.state_file is None:
            return None
        return self.state_file.with_name(
            f"{self.state_file.stem}.{vendor}{self.state_file.suffix or '.json'}"
        )


@dataclass(frozen=True)
class StartedVendor:
    """A vendor's servers (not yet serving), what to print once they are, and its cleanup."""

    name: str
    servers: tuple[SandboxServer, ...]
    describe: Callable[[], list[str]]
    aclose: Callable[[], Awaitable[None]]


def _freshbooks(settings: SandboxSettings) -> StartedVendor:
    built = build_freshbooks(
        FreshBooksOptions(
            seed=settings.seed,
            records=settings.records,
            auto_approve=settings.auto_approve,
            token_lifetime=settings.token_lifetime,
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


VENDORS: tuple[tuple[str, Callable[[SandboxSettings], StartedVendor]], ...] = (
    ("freshbooks", _freshbooks),
)


async def run_sandboxes(settings: SandboxSettings, echo: Callable[[str], None]) -> None:
    """Serve every vendor until SIGINT/SIGTERM; print URLs and credentials once all listen."""
    vendors = [start(settings) for _, start in VENDORS]
    servers = [server for vendor in vendors for server in vendor.servers]
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _stop_all, servers)
    tasks = [asyncio.create_task(server.serve()) for server in servers]
    while not all(server.started for server in servers):
        if any(task.done() for task in tasks):
            break
        await asyncio.sleep(0.02)
    else:
        _announce(settings, vendors, echo)
    await asyncio.gather(*tasks)


def _stop_all(servers: list[SandboxServer]) -> None:
    for server in servers:
        server.request_stop()


def _announce(
    settings: SandboxSettings, vendors: list[StartedVendor], echo: Callable[[str], None]
) -> None:
    for vendor in vendors:
        for line in vendor.describe():
            echo(line)
    if "salesforce" not in {name for name, _ in VENDORS}:
        echo("Salesforce sandbox   not part of this build yet: FreshBooks runs alone")
    if settings.tls is not None:
        echo(f"TLS CA file          {settings.tls.cert}")
    echo("Ready. Ctrl-C stops.")


def _flag(
    envvar: str, help_text: str, *names: str, minimum: int | None = None
) -> typer.models.OptionInfo:
    option = typer.Option(
        *names, envvar=f"FRESHFORCE_SANDBOX_{envvar}", help=help_text, min=minimum
    )
    return cast("typer.models.OptionInfo", option)


def sandbox(  # noqa: PLR0917 - one parameter per command-line flag
    host: Annotated[str, _flag("HOST", "Address to listen on.")] = "127.0.0.1",
    freshbooks_port: Annotated[
        int, _flag("FRESHBOOKS_PORT", "FreshBooks port (0 picks a free one).")
    ] = 8101,
    salesforce_port: Annotated[int, _flag("SALESFORCE_PORT", "Salesforce REST port.")] = 8102,
    pubsub_port: Annotated[int, _flag("PUBSUB_PORT", "Salesforce Pub/Sub gRPC port.")] = 8103,
    tls: Annotated[
        bool, _flag("TLS", "Serve HTTPS with a generated self-signed certificate.", "--tls")
    ] = False,
    seed: Annotated[int, _flag("SEED", "Seed for generated data, ids, tokens and faults.")] = 42,
    records: Annotated[int, _flag("RECORDS", "Generated records of each kind.", minimum=0)] = 0,
    state_file: Annotated[
        Path | None, _flag("STATE_FILE", "Keep state in JSON files next to this path.")
    ] = None,
    latency_ms: Annotated[
        int, _flag("LATENCY_MS", "Delay every API request by this many ms.", minimum=0)
    ] = 0,
    auto_approve: Annotated[
        bool, _flag("AUTO_APPROVE", "Approve OAuth consent without the page.", "--auto-approve")
    ] = False,
    token_lifetime: Annotated[
        int, _flag("TOKEN_LIFETIME", "Access-token lifetime in seconds.", minimum=1)
    ] = 43_200,
) -> None:
    """Run the local FreshBooks (and, when built, Salesforce) sandboxes until Ctrl-C."""
    for name, port in (
        ("freshbooks", freshbooks_port),
        ("salesforce", salesforce_port),
        ("pubsub", pubsub_port),
    ):
        if not 0 <= port <= 65535:  # noqa: PLR2004 - the TCP port range
            raise typer.BadParameter(f"--{name}-port must be within 0..65535, got {port}")
    if state_file is not None and state_file.is_dir():
        raise typer.BadParameter(f"--state-file {state_file} is a directory; give a file path")
    with tempfile.TemporaryDirectory(prefix="freshforce-sandbox-") as scratch:
        settings = SandboxSettings(
            host=host,
            freshbooks_port=freshbooks_port,
            salesforce_port=salesforce_port,
            pubsub_port=pubsub_port,
            tls=generate_certificate(Path(scratch)) if tls else None,
            seed=seed,
            records=records,
            state_file=state_file,
            latency_ms=latency_ms,
            auto_approve=auto_approve,
            token_lifetime=token_lifetime,
        )
        asyncio.run(run_sandboxes(settings, typer.echo))
