"""A second process for the refresh race: load the token, wait for the go file, refresh it."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr

from freshforce.connectors.oauth import OAuthProvider, TokenSource
from freshforce.store.crypto import TokenCipher
from freshforce.store.engine import create_engine


async def main(database_url: str, key: str, base_url: str, connection_id: str, go: Path) -> None:
    engine = create_engine(database_url)
    provider = OAuthProvider(
        system="freshbooks",
        authorize_url=f"{base_url}/oauth/authorize",
        token_url=f"{base_url}/auth/oauth/token",
        client_id="freshforce-sandbox",
        client_secret=SecretStr("sandbox-secret"),
        redirect_uri="http://127.0.0.1:8765/callback",
        refresh_sends_redirect_uri=True,
    )
    source = TokenSource(
        engine,
        TokenCipher([SecretStr(key)]),
        connection_id,
        provider,
        clock=lambda: datetime.now(UTC),
    )
    _, version = await source.current()
    print("ready", version, flush=True)  # noqa: T201 - talks to the test over stdout
    while not await asyncio.to_thread(go.exists):  # noqa: ASYNC110 - the test's signal file
        await asyncio.sleep(0.002)
    token, version = await source.refresh(version)
    result = {"token": token.get_secret_value(), "version": version, "refreshes": source.refreshes}
    print(json.dumps(result), flush=True)  # noqa: T201
    await engine.dispose()


if __name__ == "__main__":
    database_url, key, base_url, connection_id, go = sys.argv[1:6]
    asyncio.run(main(database_url, key, base_url, connection_id, Path(go)))
