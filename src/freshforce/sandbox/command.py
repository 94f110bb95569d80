"""The ``freshforce sandbox`` command line: flags (each with its env var), checks, then one run.

The heavy imports (FastAPI, uvicorn, faker) happen inside the command, so the rest of the CLI
stays quick to start. Every flag applies to both sandboxes, FreshBooks and Salesforce. A port that
cannot be bound is one line on stderr naming the port and the flag to change, and exit code 2.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Annotated, cast

import typer

__all__ = ["sandbox"]

_EXIT_BAD_ARGUMENTS = 2


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
        Path | None,
        _flag(
            "STATE_FILE",
            "Load and save both sandboxes' state: s.json keeps s.freshbooks.json and "
            "s.salesforce.json beside it.",
        ),
    ] = None,
    latency_ms: Annotated[
        int,
        _flag(
            "LATENCY_MS", "Delay every API request of both sandboxes by this many ms.", minimum=0
        ),
    ] = 0,
    auto_approve: Annotated[
        bool,
        _flag(
            "AUTO_APPROVE",
            "Approve OAuth at once, without consent page or Salesforce login form, so "
            "`freshforce connect` completes headless.",
            "--auto-approve",
        ),
    ] = False,
    token_lifetime: Annotated[
        int | None,
        _flag(
            "TOKEN_LIFETIME",
            "Access-token lifetime in seconds, both sandboxes (default: FreshBooks 43200, "
            "Salesforce sessions 7200).",
            minimum=1,
        ),
    ] = None,
    single_currency: Annotated[
        bool,
        _flag(
            "SINGLE_CURRENCY",
            "Run the Salesforce org without multi-currency (no CurrencyIsoCode).",
            "--single-currency",
        ),
    ] = False,
    accounts: Annotated[
        int,
        _flag(
            "ACCOUNTS",
            "Serve this many FreshBooks accounts and Salesforce orgs at once, each with its own "
            "users, records, tokens and webhooks (see docs/sandbox.md).",
            minimum=1,
        ),
    ] = 1,
) -> None:
    """Run the local FreshBooks and Salesforce sandboxes until Ctrl-C."""
    for name, port in (
        ("freshbooks", freshbooks_port),
        ("salesforce", salesforce_port),
        ("pubsub", pubsub_port),
    ):
        if not 0 <= port <= 65535:  # noqa: PLR2004 - the TCP port range
            raise typer.BadParameter(f"--{name}-port must be within 0..65535, got {port}")
    if state_file is not None and accounts > 1:
        raise typer.BadParameter("--state-file keeps one account's state; drop it or --accounts")
    if state_file is not None and state_file.is_dir():
        raise typer.BadParameter(f"--state-file {state_file} is a directory; give a file path")
    from freshforce.sandbox.core.server import ListenError  # noqa: PLC0415 - see module doc
    from freshforce.sandbox.core.tls import generate_certificate  # noqa: PLC0415 - same
    from freshforce.sandbox.launch import SandboxSettings, run_sandboxes  # noqa: PLC0415 - same

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
            multi_currency=not single_currency,
            accounts=accounts,
        )
        try:
            asyncio.run(run_sandboxes(settings, typer.echo))
        except ListenError as exc:
            flag = {
                freshbooks_port: "--freshbooks-port",
                salesforce_port: "--salesforce-port",
                pubsub_port: "--pubsub-port",
            }.get(exc.port, "the port flags")
            typer.echo(
                f"error: {exc}: stop the program using port {exc.port}, or choose another "
                f"with {flag} (0 picks a free one)",
                err=True,
            )
            raise typer.Exit(_EXIT_BAD_ARGUMENTS) from None
