"""``freshforce connect`` end to end: the browser flow against each sandbox over real sockets."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from pydantic import SecretStr

from freshforce.sandbox.core import SandboxRuntime, SandboxServer
from freshforce.sandbox.freshbooks import DEFAULT_APP, FreshBooksOptions, build_freshbooks
from freshforce.sandbox.launch import VENDORS, SandboxSettings
from freshforce.sandbox.salesforce import build_salesforce_sandbox
from freshforce.store.connections import Connection, ConnectionStatus, load_connection
from freshforce.store.crypto import TokenCipher, new_key
from freshforce.store.engine import create_engine

FRESHFORCE = str(Path(sys.executable).parent / "freshforce")
Browser = Callable[[httpx.AsyncClient, str], Awaitable[httpx.Response]]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def run_connect(
    system: str, settings: dict[str, str], tmp_path: Path, browse: Browser
) -> tuple[str, Connection]:
    """Run the command, play the user's browser, return its output and the stored connection."""
    key, database_url = new_key(), f"sqlite+aiosqlite:///{tmp_path / 'ff.db'}"
    env = {
        **os.environ,
        "FRESHFORCE_DATA_DIR": str(tmp_path),
        "FRESHFORCE_DATABASE_URL": database_url,
        "FRESHFORCE_ENCRYPTION_KEYS": key,
        f"FRESHFORCE_{system.upper()}_REDIRECT_URI": f"http://127.0.0.1:{free_port()}/callback",
        **settings,
    }
    command = [FRESHFORCE, "connect", system, "--no-browser", "--timeout", "60"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)  # noqa: ASYNC220
    try:
        assert proc.stdout is not None
        url = ""
        while not url.startswith("http"):
            url = (await asyncio.to_thread(proc.stdout.readline)).strip()
            assert url or proc.poll() is None, "connect exited before printing the URL"
        assert "state=" in url
        async with httpx.AsyncClient(follow_redirects=True) as browser:
            landed = await browse(browser, url)
        assert landed.status_code == 200
        assert "Connected." in landed.text
        out, _ = await asyncio.to_thread(proc.communicate, timeout=60)
        assert proc.returncode == 0, out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    engine = create_engine(database_url)
    async with engine.connect() as db:
        stored = await load_connection(db, TokenCipher([SecretStr(key)]), system)
    await engine.dispose()
    assert stored is not None
    assert stored.status is ConnectionStatus.ACTIVE
    assert stored.tokens.access_token is not None
    assert stored.tokens.refresh_token is not None
    assert stored.tokens.access_token.get_secret_value() not in out
    return out, stored


async def test_connect_freshbooks_stores_account_and_business(tmp_path: Path) -> None:
    runtime = SandboxRuntime.create(5)
    server = SandboxServer(build_freshbooks(FreshBooksOptions(auto_approve=True), runtime).app)
    server.start_in_thread()
    settings = {
        "FRESHFORCE_FRESHBOOKS_CLIENT_ID": DEFAULT_APP.client_id,
        "FRESHFORCE_FRESHBOOKS_CLIENT_SECRET": DEFAULT_APP.client_secret,
        "FRESHFORCE_FRESHBOOKS_API_URL": server.url,
        "FRESHFORCE_FRESHBOOKS_AUTH_URL": server.url,
    }

    async def approve(browser: httpx.AsyncClient, url: str) -> httpx.Response:
        return await browser.get(url)  # the sandbox approves at once

    try:
        out, stored = await run_connect("freshbooks", settings, tmp_path, approve)
    finally:
        server.stop()
        await runtime.aclose()
    assert "account SBX7QK, business 77001" in out
    assert (stored.remote_account, stored.remote_business) == ("SBX7QK", "77001")


async def test_connect_salesforce_stores_org_user_and_instance(tmp_path: Path) -> None:
    runtime = SandboxRuntime.create(6)
    sandbox = build_salesforce_sandbox(runtime)
    server = SandboxServer(sandbox.app)
    server.start_in_thread()
    settings = {
        "FRESHFORCE_SALESFORCE_CLIENT_ID": sandbox.client_id,
        "FRESHFORCE_SALESFORCE_CLIENT_SECRET": sandbox.client_secret,
        "FRESHFORCE_SALESFORCE_LOGIN_URL": server.url,
    }

    async def log_in(browser: httpx.AsyncClient, url: str) -> httpx.Response:
        page = await browser.get(url)
        assert page.status_code == 200
        form = dict(httpx.URL(url).params)
        form.update(username=sandbox.username, password=sandbox.password, action="approve")
        return await browser.post(f"{server.url}/services/oauth2/authorize", data=form)

    try:
        _, stored = await run_connect("salesforce", settings, tmp_path, log_in)
    finally:
        server.stop()
        await runtime.aclose()
    assert stored.remote_account == sandbox.state.org_id
    assert stored.remote_business == sandbox.state.admin_user_id
    assert stored.instance_url == server.url


async def test_connect_salesforce_completes_headless_with_auto_approve(tmp_path: Path) -> None:
    # Built the way `freshforce sandbox --auto-approve` builds it: no login form to fill in.
    vendor = dict(VENDORS)["salesforce"](
        SandboxSettings(salesforce_port=0, pubsub_port=0, auto_approve=True)
    )
    server = vendor.servers[0]
    assert isinstance(server, SandboxServer)
    server.start_in_thread()
    settings = {
        "FRESHFORCE_SALESFORCE_CLIENT_ID": "freshforce-sandbox",
        "FRESHFORCE_SALESFORCE_CLIENT_SECRET": "sandbox-secret",
        "FRESHFORCE_SALESFORCE_LOGIN_URL": server.url,
    }

    async def follow(browser: httpx.AsyncClient, url: str) -> httpx.Response:
        return await browser.get(url)  # one GET: the sandbox redirects straight to the callback

    try:
        out, stored = await run_connect("salesforce", settings, tmp_path, follow)
    finally:
        server.stop()
        await vendor.aclose()
    assert "Connected salesforce as 'salesforce'" in out
    assert stored.instance_url == server.url
