"""``freshforce connect freshbooks|salesforce``: authorise in the browser and store the connection.

Starts a one-shot callback server on 127.0.0.1 at the configured redirect URI's port and path,
prints the authorize URL (and opens it unless ``--no-browser``), checks ``state`` on the
redirect, trades the code for tokens (with PKCE for Salesforce), looks up which account was
granted, and stores the connection with its tokens encrypted. The connectors and the store are
imported when the command runs, so registering it costs nothing at start-up.
"""

from __future__ import annotations

import re
import webbrowser
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Literal, cast
from urllib.parse import urlsplit

import typer

from freshforce.commands.context import EXIT_BAD_CONFIG, CliContext, cli_context, run
from freshforce.envvars import ENV_PREFIX
from freshforce.errors import AuthError, ConfigError

if TYPE_CHECKING:
    from freshforce.connectors.oauth import OAuthProvider
    from freshforce.runtime import Runtime
    from freshforce.store.connections import NewConnection

# The same as connectors.providers.System; spelled here so the command line need not import the
# connectors (httpx, authlib) to register this command.
System = Literal["freshbooks", "salesforce"]

__all__ = ["connect"]

_DEFAULT_PORT = 80
_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def connect(  # noqa: PLR0917 - one parameter per CLI option
    ctx: typer.Context,
    system: Annotated[System, typer.Argument(help="Which system to connect.")],
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help="Connection id to store (default: the system's name).",
            envvar=f"{ENV_PREFIX}CONNECT_NAME",
        ),
    ] = None,
    browser: Annotated[
        bool,
        typer.Option(
            "--browser/--no-browser",
            help="Open the authorize URL in a browser (it is printed either way).",
            envvar=f"{ENV_PREFIX}CONNECT_BROWSER",
        ),
    ] = True,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            min=1.0,
            help="Seconds to wait for the browser to come back.",
            envvar=f"{ENV_PREFIX}CONNECT_TIMEOUT",
        ),
    ] = 300.0,
    refresh_token: Annotated[
        str | None,
        typer.Option(
            "--refresh-token",
            help="Headless: store this refresh token (checked by refreshing it once) instead "
            "of the browser flow. Prefer the environment variable, out of shell history.",
            envvar=f"{ENV_PREFIX}CONNECT_REFRESH_TOKEN",
            show_envvar=True,
        ),
    ] = None,
    instance_url: Annotated[
        str | None,
        typer.Option(
            "--instance-url",
            help="Headless Salesforce: the org's instance URL (https://<domain>.my.salesforce.com).",
            envvar=f"{ENV_PREFIX}CONNECT_INSTANCE_URL",
        ),
    ] = None,
    tenant: Annotated[
        str,
        typer.Option(
            "--tenant",
            help="The integration pair this connection belongs to (see `freshforce tenants`).",
            envvar=f"{ENV_PREFIX}TENANT",
        ),
    ] = "default",
) -> None:
    """Authorise freshforce at FreshBooks or Salesforce and store the connection."""
    cli = cli_context(ctx)
    connection_id = name or (system if tenant == "default" else f"{system}-{tenant}")
    if not _TENANT.fullmatch(tenant):
        msg = f"--tenant {tenant!r}: use 1 to 64 letters, digits, '.', '_' or '-'"
        cli.fail(msg, code=EXIT_BAD_CONFIG)
    if refresh_token is not None or instance_url is not None:
        from freshforce.commands.headless import connect_headless  # noqa: PLC0415

        summary = run(
            cli,
            lambda: connect_headless(
                cli, system, connection_id, refresh_token or "", instance_url, tenant=tenant
            ),
        )
        cli.stdout.print(summary)
        return
    summary = run(
        cli,
        lambda: _connect(
            cli, system, connection_id, browser=browser, wait_seconds=timeout, tenant=tenant
        ),
        database_url=cli.settings.database_url,
    )
    cli.stdout.print(summary)


async def _connect(
    cli: CliContext,
    system: System,
    connection_id: str,
    *,
    browser: bool,
    wait_seconds: float,
    tenant: str,
) -> str:
    from freshforce.connectors.providers import provider_for  # noqa: PLC0415 - see module doc
    from freshforce.runtime import Runtime  # noqa: PLC0415 - same

    settings = cli.settings
    provider = provider_for(system, settings)
    redirect = urlsplit(provider.redirect_uri)
    if redirect.hostname not in {"127.0.0.1", "localhost", "::1"}:
        msg = (
            f"{system}_redirect_uri must point at this machine (127.0.0.1 or localhost) for "
            f"`freshforce connect`; it is {provider.redirect_uri}"
        )
        raise ConfigError(msg)
    async with await Runtime.open(settings) as runtime:
        new = await _authorise(cli, runtime, provider, connection_id, browser, wait_seconds, tenant)
    return (
        f"Connected {system} as {connection_id!r} (tenant {tenant}): account {new.remote_account}"
        + (f", business {new.remote_business}" if new.remote_business else "")
    )


async def _authorise(  # noqa: PLR0917 - the one caller passes what it checked
    cli: CliContext,
    runtime: Runtime,
    provider: OAuthProvider,
    connection_id: str,
    browser: bool,
    wait_seconds: float,
    tenant: str,
) -> NewConnection:
    from freshforce.connectors.callback import CallbackServer  # noqa: PLC0415 - see module doc
    from freshforce.connectors.oauth import exchange_code, start_authorization  # noqa: PLC0415
    from freshforce.connectors.providers import connection_from_grant  # noqa: PLC0415 - same
    from freshforce.store.connections import save_connection  # noqa: PLC0415 - same

    system = cast("System", provider.system)
    redirect = urlsplit(provider.redirect_uri)
    port = redirect.port or _DEFAULT_PORT
    server = CallbackServer("127.0.0.1", port, redirect.path)
    try:
        await server.start()
    except OSError as exc:
        msg = (
            f"cannot listen for the OAuth callback on 127.0.0.1:{port} "
            f"({exc.strerror or exc}): stop the program using that port, or set "
            f"{system}_redirect_uri ({ENV_PREFIX}{system.upper()}_REDIRECT_URI) to another port "
            "that the OAuth app allows"
        )
        raise ConfigError(msg) from None
    request = start_authorization(provider)
    cli.stdout.print(f"Open this URL to authorise freshforce at {system}:", soft_wrap=True)
    typer.echo(request.url)
    if browser:
        webbrowser.open(request.url)
    try:
        answer = await server.wait(wait_seconds)
    except TimeoutError:
        msg = f"no answer from {system} within {wait_seconds:g} seconds; run the command again"
        raise AuthError(msg, system=system) from None
    if answer.error or not answer.code:
        msg = f"{system} refused the authorisation ({answer.error or 'no code'})"
        raise AuthError(msg, system=system, remote_code=answer.error)
    if answer.state != request.state:
        msg = "the callback's state does not match this request; run the command again"
        raise AuthError(msg, system=system)
    now = runtime.clock()
    grant = await exchange_code(
        provider,
        answer.code,
        code_verifier=request.code_verifier,
        now=now,
        transport=runtime.transport,
    )
    new = await connection_from_grant(
        system, connection_id, grant, runtime.settings, transport=runtime.transport
    )
    new = replace(new, tenant=tenant)
    async with runtime.engine.begin() as db:
        await save_connection(db, runtime.cipher, new, now=now)
    return new
