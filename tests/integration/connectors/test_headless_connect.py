"""``freshforce connect --refresh-token`` and ``freshforce connections``, against the sandboxes."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from freshforce.sandbox.core import SandboxRuntime, SandboxServer
from freshforce.sandbox.freshbooks import DEFAULT_APP, FreshBooksOptions, build_freshbooks
from freshforce.sandbox.salesforce import SalesforceSandbox, build_salesforce_sandbox
from freshforce.store.connections import Connection, load_connection
from freshforce.store.crypto import TokenCipher, new_key
from freshforce.store.engine import create_engine
from freshforce.store.schema import connections

from .conftest import CONNECTION, FRESHFORCE, FbWorld


@dataclass
class Cli:
    env: dict[str, str]
    database_url: str
    key: str

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [FRESHFORCE, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            input="",
            check=False,
        )

    async def stored(self, name: str) -> Connection | None:
        engine = create_engine(self.database_url)
        async with engine.connect() as db:
            found = await load_connection(db, TokenCipher([SecretStr(self.key)]), name)
        await engine.dispose()
        return found


def _cli(tmp_path: Path, settings: dict[str, str]) -> Cli:
    key = new_key()
    url = f"sqlite+aiosqlite:///{tmp_path / 'ff.db'}"
    env = {
        **os.environ,
        "FRESHFORCE_DATA_DIR": str(tmp_path),
        "FRESHFORCE_DATABASE_URL": url,
        "FRESHFORCE_ENCRYPTION_KEYS": key,
        **settings,
    }
    return Cli(env, url, key)


@pytest.fixture
def freshbooks_server() -> Iterator[SandboxServer]:
    runtime = SandboxRuntime.create(11)
    server = SandboxServer(build_freshbooks(FreshBooksOptions(), runtime).app)
    server.start_in_thread()
    yield server
    server.stop()


def _mint(server: SandboxServer) -> str:
    minted = httpx.post(f"{server.url}/_sandbox/tokens", json={}).json()
    return str(minted["refresh_token"])


def _salesforce_refresh_token(server: SandboxServer, sandbox: SalesforceSandbox) -> str:
    """Run the browser flow by hand once: the Salesforce sandbox mints no refresh tokens."""
    redirect = "http://127.0.0.1:9/callback"
    query = {
        "response_type": "code",
        "client_id": sandbox.client_id,
        "redirect_uri": redirect,
        "state": "s",
    }
    with httpx.Client(base_url=server.url) as browser:
        form = {**query, "username": sandbox.username, "password": sandbox.password}
        approved = browser.post("/services/oauth2/authorize", data={**form, "action": "approve"})
        code = httpx.URL(approved.headers["location"]).params["code"]
        grant = browser.post(
            "/services/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "client_id": sandbox.client_id,
                "client_secret": sandbox.client_secret,
                "redirect_uri": redirect,
            },
        )
    return str(grant.json()["refresh_token"])


def _fb_cli(tmp_path: Path, server: SandboxServer) -> Cli:
    return _cli(
        tmp_path,
        {
            "FRESHFORCE_FRESHBOOKS_CLIENT_ID": DEFAULT_APP.client_id,
            "FRESHFORCE_FRESHBOOKS_CLIENT_SECRET": DEFAULT_APP.client_secret,
            "FRESHFORCE_FRESHBOOKS_API_URL": server.url,
        },
    )


async def test_headless_freshbooks_connect_then_list_show_remove(
    tmp_path: Path, freshbooks_server: SandboxServer
) -> None:
    cli = _fb_cli(tmp_path, freshbooks_server)
    token = _mint(freshbooks_server)

    done = cli("connect", "freshbooks", "--name", "fb", "--refresh-token", token)
    stored = await cli.stored("fb")
    listed = cli("connections", "list", "--json")
    shown = cli("connections", "show", "fb")
    missing = cli("connections", "show", "nobody")

    assert done.returncode == 0, done.stderr
    assert "account SBX7QK" in done.stdout
    assert token not in done.stdout + done.stderr
    assert stored is not None
    assert stored.tokens.refresh_token is not None
    assert stored.tokens.refresh_token.get_secret_value() != token  # spent once, rotated
    rows = json.loads(listed.stdout)
    assert [(r["id"], r["system"], r["status"], r["open_alerts"]) for r in rows] == [
        ("fb", "freshbooks", "active", [])
    ]
    assert rows[0]["token_refreshed_at"] is not None
    assert rows[0]["token_expires_at"] is not None
    assert "last refresh:   20" in shown.stdout
    assert "access_token" not in listed.stdout + shown.stdout
    assert missing.returncode == 1
    assert "no connection named 'nobody'" in missing.stderr

    removed = cli("connections", "remove", "fb", "--yes")
    assert removed.returncode == 0, removed.stderr
    assert await cli.stored("fb") is None
    assert json.loads(cli("connections", "list", "--json").stdout) == []


async def test_a_refused_refresh_token_stores_nothing_and_is_not_echoed(
    tmp_path: Path, freshbooks_server: SandboxServer
) -> None:
    cli = _fb_cli(tmp_path, freshbooks_server)
    bogus = "bogus-refresh-token-0123456789"

    done = cli("connect", "freshbooks", "--refresh-token", bogus)
    wrong = cli("connect", "freshbooks", "--refresh-token", bogus, "--instance-url", "http://x")

    assert done.returncode != 0
    assert bogus not in done.stdout + done.stderr
    assert await cli.stored("freshbooks") is None
    assert wrong.returncode == 2
    assert "--instance-url is for Salesforce" in wrong.stderr


async def test_headless_salesforce_connect_needs_and_stores_the_instance_url(
    tmp_path: Path,
) -> None:
    runtime = SandboxRuntime.create(12)
    sandbox = build_salesforce_sandbox(runtime)
    server = SandboxServer(sandbox.app)
    server.start_in_thread()
    try:
        cli = _cli(
            tmp_path,
            {
                "FRESHFORCE_SALESFORCE_CLIENT_ID": sandbox.client_id,
                "FRESHFORCE_SALESFORCE_CLIENT_SECRET": sandbox.client_secret,
                "FRESHFORCE_SALESFORCE_LOGIN_URL": server.url,
            },
        )
        token = _salesforce_refresh_token(server, sandbox)
        without = cli("connect", "salesforce", "--refresh-token", token)
        done = cli(
            "connect", "salesforce", "--refresh-token", token, "--instance-url", server.url + "/"
        )
        stored = await cli.stored("salesforce")
        shown = json.loads(cli("connections", "show", "salesforce", "--json").stdout)
    finally:
        server.stop()
        await runtime.aclose()

    assert without.returncode == 2
    assert "--instance-url is required" in without.stderr
    assert done.returncode == 0, done.stderr
    assert token not in done.stdout + done.stderr
    assert stored is not None
    assert (stored.remote_account, stored.instance_url) == (sandbox.state.org_id, server.url)
    assert shown["token_refreshed_at"] is not None
    assert shown["status"] == "active"


async def test_a_token_refresh_records_when_it_happened(fb_world: FbWorld) -> None:
    source = fb_world.token_source()
    _, version = await source.current()
    before = await _refreshed_at(fb_world)

    await source.refresh(version)

    assert before is None
    assert await _refreshed_at(fb_world) is not None


async def _refreshed_at(world: FbWorld) -> object:
    async with world.engine.connect() as db:
        return await db.scalar(
            sa.select(connections.c.token_refreshed_at).where(connections.c.id == CONNECTION)
        )


async def test_tenants_are_connected_listed_and_removed(
    tmp_path: Path, freshbooks_server: SandboxServer
) -> None:
    cli = _fb_cli(tmp_path, freshbooks_server)
    first = cli("connect", "freshbooks", "--refresh-token", _mint(freshbooks_server))
    acme = cli(
        "connect", "freshbooks", "--tenant", "acme", "--refresh-token", _mint(freshbooks_server)
    )
    bad = cli("connect", "freshbooks", "--tenant", "no spaces", "--refresh-token", "x")
    listed = json.loads(cli("tenants", "list", "--json").stdout)
    stored = await cli.stored("freshbooks-acme")

    assert first.returncode == 0, first.stderr
    assert acme.returncode == 0, acme.stderr
    assert "as 'freshbooks-acme' (tenant acme)" in acme.stdout
    assert bad.returncode == 2
    assert "--tenant 'no spaces'" in bad.stderr
    assert stored is not None
    assert stored.tenant == "acme"
    assert [(t["tenant"], t["freshbooks"], t["salesforce"], t["paired"]) for t in listed] == [
        ("acme", ["freshbooks-acme"], [], False),
        ("default", ["freshbooks"], [], False),
    ]

    removed = cli("tenants", "remove", "acme", "--yes")
    again = cli("tenants", "remove", "acme", "--yes")
    assert removed.returncode == 0, removed.stderr
    assert "connections freshbooks-acme" in removed.stdout
    assert await cli.stored("freshbooks-acme") is None
    assert await cli.stored("freshbooks") is not None
    assert again.returncode == 1
    assert "no tenant named 'acme'" in again.stderr
    assert [t["tenant"] for t in json.loads(cli("tenants", "list", "--json").stdout)] == ["default"]
