"""``freshforce connect`` end to end: the browser flow against each sandbox over real sockets."""

from __future__ import annotations

from pathlib import Path

import httpx

from freshforce.sandbox.core import SandboxRuntime, SandboxServer
from freshforce.sandbox.freshbooks import DEFAULT_APP, FreshBooksOptions, build_freshbooks
from freshforce.sandbox.launch import VENDORS, SandboxSettings
from freshforce.sandbox.salesforce import build_salesforce_sandbox

from .conftest import run_connect


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
