"""A second process for the refresh race: load the token, wait for the go file, refresh it.

It builds its runtime from settings like any freshforce process: same store, same key, the
sandbox as its FreshBooks API host.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from pydantic import SecretStr

from freshforce.runtime import Runtime
from freshforce.settings import Settings


async def main(database_url: str, key: str, base_url: str, connection_id: str, go: Path) -> None:
    settings = Settings(
        database_url=database_url,
        encryption_keys=[SecretStr(key)],
        freshbooks_api_url=base_url,
        freshbooks_client_id="freshforce-sandbox",
        freshbooks_client_secret=SecretStr("sandbox-secret"),
        freshbooks_redirect_uri="http://127.0.0.1:8765/callback",
    )
    async with await Runtime.open(settings) as runtime:
        source = runtime.token_source(connection_id, "freshbooks")
        _, version = await source.current()
        print("ready", version, flush=True)  # noqa: T201 - talks to the test over stdout
        while not await asyncio.to_thread(go.exists):  # noqa: ASYNC110 - the test's signal file
            await asyncio.sleep(0.002)
        token, version = await source.refresh(version)
    result = {"token": token.get_secret_value(), "version": version, "refreshes": source.refreshes}
    print(json.dumps(result), flush=True)  # noqa: T201


if __name__ == "__main__":
    database_url, key, base_url, connection_id, go = sys.argv[1:6]
    asyncio.run(main(database_url, key, base_url, connection_id, Path(go)))
