"""``freshforce connect`` against sandboxes of several accounts/orgs: the user picks which."""

from __future__ import annotations

from pathlib import Path

import httpx

from freshforce.sandbox.core import SandboxServer
from freshforce.sandbox.launch import VENDORS, SandboxSettings
from freshforce.sandbox.multi import account_owner, org_username

from .conftest import run_connect

SETTINGS = SandboxSettings(
    freshbooks_port=0, salesforce_port=0, pubsub_port=0, auto_approve=True, accounts=3
)


async def test_connect_reaches_the_account_and_org_of_the_user(tmp_path: Path) -> None:
    fb_vendor = dict(VENDORS)["freshbooks"](SETTINGS)
    sf_vendor = dict(VENDORS)["salesforce"](SETTINGS)
    fb_server, sf_server = fb_vendor.servers[0], sf_vendor.servers[0]
    assert isinstance(fb_server, SandboxServer)
    assert isinstance(sf_server, SandboxServer)
    fb_server.start_in_thread()
    sf_server.start_in_thread()
    owner = account_owner(2)
    try:

        async def as_owner(browser: httpx.AsyncClient, url: str) -> httpx.Response:
            return await browser.get(f"{url}&user={owner.email}")

        out, fb = await run_connect(
            "freshbooks",
            {
                "FRESHFORCE_FRESHBOOKS_CLIENT_ID": "freshforce-sandbox",
                "FRESHFORCE_FRESHBOOKS_CLIENT_SECRET": "sandbox-secret",
                "FRESHFORCE_FRESHBOOKS_API_URL": fb_server.url,
                "FRESHFORCE_FRESHBOOKS_AUTH_URL": fb_server.url,
            },
            tmp_path,
            as_owner,
        )

        async def as_admin(browser: httpx.AsyncClient, url: str) -> httpx.Response:
            return await browser.get(f"{url}&login_hint={org_username(2)}")

        _, sf = await run_connect(
            "salesforce",
            {
                "FRESHFORCE_SALESFORCE_CLIENT_ID": "freshforce-sandbox",
                "FRESHFORCE_SALESFORCE_CLIENT_SECRET": "sandbox-secret",
                "FRESHFORCE_SALESFORCE_LOGIN_URL": sf_server.url,
            },
            tmp_path,
            as_admin,
        )
    finally:
        fb_server.stop()
        sf_server.stop()
        await fb_vendor.aclose()
        await sf_vendor.aclose()
    assert f"account {owner.account_id}" in out
    assert (fb.remote_account, fb.remote_business) == (owner.account_id, str(owner.business_id))
    assert sf.instance_url == f"{sf_server.url}/orgs/2"
    assert sf.remote_account.startswith("00D")
    assert sf.remote_account != "00D8d0000000001EAA"  # not org 0
