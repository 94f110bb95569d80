"""``freshforce connect freshbooks`` end to end: browser flow against the sandbox, real sockets."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
from pydantic import SecretStr

from freshforce.sandbox.core import SandboxRuntime, SandboxServer
from freshforce.sandbox.freshbooks import DEFAULT_APP, FreshBooksOptions, build_freshbooks
from freshforce.store.connections import ConnectionStatus, load_connection
from freshforce.store.crypto import TokenCipher, new_key
from freshforce.store.engine import create_engine

FRESHFORCE = str(Path(sys.executable).parent / "freshforce")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_connect_freshbooks_stores_account_and_business(tmp_path: Path) -> None:
    runtime = SandboxRuntime.create(5)
    server = SandboxServer(build_freshbooks(FreshBooksOptions(auto_approve=True), runtime).app)
    server.start_in_thread()
    key, database_url = new_key(), f"sqlite+aiosqlite:///{tmp_path / 'ff.db'}"
    env = {
        **os.environ,
        "FRESHFORCE_DATA_DIR": str(tmp_path),
        "FRESHFORCE_DATABASE_URL": database_url,
        "FRESHFORCE_ENCRYPTION_KEYS": key,
        "FRESHFORCE_FRESHBOOKS_CLIENT_ID": DEFAULT_APP.client_id,
        "FRESHFORCE_FRESHBOOKS_CLIENT_SECRET": DEFAULT_APP.client_secret,
        "FRESHFORCE_FRESHBOOKS_API_URL": server.url,
        "FRESHFORCE_FRESHBOOKS_AUTH_URL": server.url,
        "FRESHFORCE_FRESHBOOKS_REDIRECT_URI": f"http://127.0.0.1:{free_port()}/callback",
    }
    command = [FRESHFORCE, "connect", "freshbooks", "--no-browser", "--timeout", "60"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)  # noqa: ASYNC220
    try:
        assert proc.stdout is not None
        url = ""
        while not url.startswith("http"):
            url = (await asyncio.to_thread(proc.stdout.readline)).strip()
            assert url or proc.poll() is None, "connect exited before printing the URL"
        assert "state=" in url
        async with httpx.AsyncClient(follow_redirects=True) as browser:  # the user's browser
            landed = await browser.get(url)
        assert landed.status_code == 200
        assert "Connected." in landed.text
        out, _ = await asyncio.to_thread(proc.communicate, timeout=60)
        assert proc.returncode == 0, out
        assert "account SBX7QK, business 77001" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        server.stop()
        await runtime.aclose()

    engine = create_engine(database_url)
    async with engine.connect() as db:
        stored = await load_connection(db, TokenCipher([SecretStr(key)]), "freshbooks")
    await engine.dispose()
    assert stored is not None
    assert (stored.remote_account, stored.remote_business) == ("SBX7QK", "77001")
    assert stored.status is ConnectionStatus.ACTIVE
    assert stored.tokens.refresh_token is not None
    assert stored.tokens.access_token is not None
    assert stored.tokens.access_token.get_secret_value() not in out
