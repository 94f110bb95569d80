"""The guided demo: both sandboxes, freshforce running as a service, one deal from start to cash.

It starts the FreshBooks and Salesforce sandboxes on their ports, a fresh embedded SQLite store
in the demo's own folder (never a real installation's data directory; made anew each run, as the
sandboxes start empty, with an encryption key that lives only as long as the run), both
connections made from tokens the sandboxes mint, and ``freshforce run``'s service: the web app
(dashboard and webhook route), intake (signed webhooks, CDC, pollers as the safety net), the
worker with the built-in flows and the reconciler. Then a person's actions, made through the
sandboxes' public APIs, and what freshforce does with each (demo_story.py): a client appears as
an Account, a won deal becomes an invoice, a payment marks the deal paid.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import SecretStr

from freshforce.demo_story import DemoResult, play
from freshforce.errors import ConfigError
from freshforce.sandbox.core.server import ListenError
from freshforce.sandbox.freshbooks import DEFAULT_APP
from freshforce.sandbox.launch import SandboxSettings, StartedVendor, build_vendors, wait_started
from freshforce.store.crypto import new_key

if TYPE_CHECKING:
    from freshforce.runtime import Runtime
    from freshforce.settings import Settings

__all__ = ["DemoResult", "run_demo"]

_TIMEOUT = httpx.Timeout(10.0)
_SF_APP = ("freshforce-sandbox", "sandbox-secret")  # the Salesforce sandbox's documented app
DEMO_USER = "demo"


async def run_demo(
    settings: Settings,
    sandbox: SandboxSettings,
    echo: Callable[[str], None],
    *,
    keep_running: bool,
    folder: Path,
) -> DemoResult:
    """Start everything, play the story, and serve until a signal when ``keep_running``."""
    try:
        vendors = build_vendors(sandbox)
    except ListenError as exc:
        raise _port_problem(exc) from None
    servers = [server for vendor in vendors for server in vendor.servers]
    tasks = [asyncio.create_task(server.serve()) for server in servers]
    try:
        try:
            await wait_started(servers, tasks)
        except ListenError as exc:
            raise _port_problem(exc) from None
        for vendor in vendors:
            for line in vendor.describe()[:1]:
                echo(line)
        return await _with_service(
            settings, vendors, echo, keep_running=keep_running, folder=folder
        )
    finally:
        for server in servers:
            server.request_stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        for vendor in vendors:
            await vendor.aclose()


async def _with_service(
    settings: Settings,
    vendors: list[StartedVendor],
    echo: Callable[[str], None],
    *,
    keep_running: bool,
    folder: Path,
) -> DemoResult:
    from freshforce.flows import builtin_flows  # noqa: PLC0415 - the heavy half of the demo
    from freshforce.mapping import load_maps, write_defaults  # noqa: PLC0415
    from freshforce.runtime import Runtime  # noqa: PLC0415
    from freshforce.service import Service, reconcile_tasks  # noqa: PLC0415

    fb_url, sf_url, pubsub = _urls(vendors)
    folder.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before anything serves
    database = folder / "demo.db"
    for stale in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        stale.unlink(missing_ok=True)
    config_dir = folder / "config"
    if not (config_dir / "clients.yaml").exists():
        write_defaults(config_dir)
    sock = socket.socket()
    sock.bind((settings.web_host, 0 if not keep_running else settings.web_port))
    web_url = f"http://{settings.web_host}:{sock.getsockname()[1]}"
    demo_settings = settings.model_copy(
        update={
            "data_dir": folder,
            "database_url": f"sqlite:///{database}",
            "config_dir": config_dir,
            "encryption_keys": [SecretStr(new_key())],
            "freshbooks_api_url": fb_url,
            "freshbooks_auth_url": fb_url,
            "freshbooks_client_id": DEFAULT_APP.client_id,
            "freshbooks_client_secret": SecretStr(DEFAULT_APP.client_secret),
            "salesforce_login_url": sf_url,
            "salesforce_client_id": _SF_APP[0],
            "salesforce_client_secret": SecretStr(_SF_APP[1]),
            "salesforce_pubsub_host": pubsub,
            "salesforce_pubsub_tls": False,
            "public_url": web_url,
            "poll_interval_seconds": 5.0,
            "worker_poll_interval": 0.1,
        }
    )
    async with await Runtime.open(demo_settings) as runtime:
        echo(f"demo folder          {folder} (store made anew, key for this run only)")
        async with httpx.AsyncClient(timeout=_TIMEOUT) as http:
            person = await _connect(runtime, http, fb_url, sf_url)
            password = await _dashboard_user(runtime)
            maps = load_maps(config_dir, profile=demo_settings.profile)
            flows = builtin_flows(runtime, maps)
            periodic = reconcile_tasks(runtime, maps, set(flows))
            service = Service(runtime, maps, flows, periodic=periodic, sock=sock)
            stop = asyncio.Event()
            serving = asyncio.create_task(service.serve(stop))
            try:
                await _started(service, serving)
                echo(f"freshforce run       {web_url}  (dashboard: {DEMO_USER} / {password})")
                result = await play(http, person, echo)
                echo("")
                where = f"{web_url}/records?q={result.freshbooks_client_id}"
                echo(f"See it all on the dashboard: {where}")
                trace = f"FRESHFORCE_DATABASE_URL=sqlite:///{database} freshforce trace"
                echo(f"or from the command line: {trace} {result.salesforce_account_id}")
                if keep_running:
                    await _until_signal(echo)
                return result
            finally:
                stop.set()
                await asyncio.gather(serving, return_exceptions=True)


async def _started(service: Any, serving: asyncio.Task[None]) -> None:  # noqa: ANN401 - Service
    waiting = asyncio.create_task(service.started.wait())
    await asyncio.wait({waiting, serving}, return_when=asyncio.FIRST_COMPLETED)
    if serving.done():
        waiting.cancel()
        serving.result()  # raises why the service stopped
        raise ConfigError("the freshforce service stopped before it started")


async def _connect(runtime: Runtime, http: httpx.AsyncClient, fb_url: str, sf_url: str) -> Any:  # noqa: ANN401
    """Store both connections from tokens the sandboxes mint; return the person's sessions."""
    from freshforce.demo_story import Person  # noqa: PLC0415
    from freshforce.store.connections import (  # noqa: PLC0415
        NewConnection,
        Tokens,
        save_connection,
    )

    now = datetime.now(UTC)
    ours = await _post(http, f"{fb_url}/_sandbox/tokens", {})
    me = (
        await http.get(
            f"{fb_url}/auth/api/v1/users/me",
            headers={"Authorization": f"Bearer {ours['access_token']}"},
        )
    ).json()
    account_id = me["response"]["business_memberships"][0]["business"]["account_id"]
    fb_tokens = Tokens(SecretStr(ours["access_token"]), SecretStr(ours["refresh_token"]), None)
    sf = await _post(http, f"{sf_url}/_sandbox/tokens", {})
    sf_tokens = Tokens(SecretStr(sf["access_token"]), None, None)
    async with runtime.engine.begin() as db:
        await save_connection(
            db,
            runtime.cipher,
            NewConnection("freshbooks", "freshbooks", fb_tokens, remote_account=account_id),
            now=now,
        )
        await save_connection(
            db,
            runtime.cipher,
            NewConnection(
                "salesforce",
                "salesforce",
                sf_tokens,
                remote_account=sf["organization_id"],
                instance_url=sf_url,
            ),
            now=now,
        )
    theirs = await _post(http, f"{fb_url}/_sandbox/tokens", {})
    person_sf = await _post(http, f"{sf_url}/_sandbox/tokens", {})
    return Person(
        fb_base=f"{fb_url}/accounting/account/{account_id}",
        fb_headers={"Authorization": f"Bearer {theirs['access_token']}"},
        sf_url=sf_url,
        sf_headers={"Authorization": f"Bearer {person_sf['access_token']}"},
    )


async def _dashboard_user(runtime: Runtime) -> str:
    from freshforce.store.users import Role, add_user  # noqa: PLC0415
    from freshforce.web.passwords import hash_password  # noqa: PLC0415

    password = secrets.token_urlsafe(9)
    async with runtime.engine.begin() as db:
        await add_user(
            db,
            username=DEMO_USER,
            password_hash=hash_password(password),
            role=Role.OPERATOR,
            now=datetime.now(UTC),
        )
    return password


async def _post(http: httpx.AsyncClient, url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(url, json=body)
    response.raise_for_status()
    found: dict[str, Any] = response.json()
    return found


def _port_problem(exc: ListenError) -> ConfigError:
    return ConfigError(
        f"the demo's sandboxes {exc}: another `freshforce demo` or `freshforce sandbox` may be "
        f"running; stop it, or run `freshforce demo --check`, which picks free ports"
    )


def _urls(vendors: list[StartedVendor]) -> tuple[str, str, str]:
    by_name = {vendor.name: vendor.servers for vendor in vendors}
    fb, sf = by_name["freshbooks"][0], by_name["salesforce"]
    target = str(getattr(sf[1], "target", ""))
    return str(getattr(fb, "url", "")), str(getattr(sf[0], "url", "")), target


async def _until_signal(echo: Callable[[str], None]) -> None:
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, done.set)
    echo("Everything keeps running for you to explore: edit either side and watch. Ctrl-C stops.")
    await done.wait()
