"""Two processes refresh the same single-use FreshBooks refresh token at once: one refresh wins."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import httpx
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.runtime import Runtime
from freshforce.sandbox.core import SandboxRuntime, SandboxServer
from freshforce.sandbox.freshbooks import FreshBooksOptions, build_freshbooks
from freshforce.store.connections import (
    ConnectionStatus,
    NewConnection,
    Tokens,
    load_connection,
    save_connection,
)
from freshforce.store.crypto import TokenCipher, new_key

from .conftest import CONNECTION, now, settings

SCRIPT = Path(__file__).with_name("refresher_process.py")


async def test_two_processes_refresh_once_and_keep_the_connection(
    store_engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    runtime = SandboxRuntime.create(11)
    sandbox = build_freshbooks(FreshBooksOptions(seed=11), runtime)
    server = SandboxServer(sandbox.app)
    server.start_in_thread()
    key = new_key()
    cipher = TokenCipher([SecretStr(key)])
    try:
        async with httpx.AsyncClient(base_url=server.url) as admin:
            minted = (await admin.post("/_sandbox/tokens", json={})).json()
            tokens = Tokens(
                SecretStr(minted["access_token"]), SecretStr(minted["refresh_token"]), None
            )
            async with store_engine.begin() as db:
                await save_connection(
                    db, cipher, NewConnection(CONNECTION, "freshbooks", tokens), now=now()
                )
            # Hold every refresh in flight long enough for the other process to arrive.
            fault = {"kind": "latency", "latency_ms": 800, "path": "/auth/oauth/token"}
            await admin.post("/_sandbox/faults", json=fault)
            mine_runtime = await Runtime.open(settings(database_url, key, server.url))
            mine = mine_runtime.token_source(CONNECTION, "freshbooks")
            _, version = await mine.current()
            go = tmp_path / "go"
            other = subprocess.Popen(  # noqa: ASYNC220 - a real second process is the point
                [sys.executable, str(SCRIPT), database_url, key, server.url, CONNECTION, str(go)],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert other.stdout is not None
            ready = await asyncio.to_thread(other.stdout.readline)
            assert ready.split() == ["ready", "0"]
            go.touch()
            token, new_version = await mine.refresh(version)
            out, _ = await asyncio.to_thread(other.communicate, timeout=60)
            assert other.returncode == 0
            theirs = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])

            token_calls = (
                await admin.get("/_sandbox/requests", params={"path": "/auth/oauth/token"})
            ).json()["requests"]
            assert len(token_calls) == 1
            assert mine.refreshes + theirs["refreshes"] == 1
            assert token.get_secret_value() == theirs["token"]
            assert new_version == theirs["version"] == 1
            async with store_engine.connect() as db:
                stored = await load_connection(db, cipher, CONNECTION)
            assert stored is not None
            assert stored.status is ConnectionStatus.ACTIVE
            assert stored.tokens.access_token is not None
            assert stored.tokens.access_token.get_secret_value() == token.get_secret_value()
            works = await admin.get(
                "/accounting/account/SBX7QK/users/clients",
                headers={"Authorization": f"Bearer {token.get_secret_value()}"},
            )
            assert works.status_code == 200
            await mine_runtime.aclose()
    finally:
        server.stop()
        await runtime.aclose()
