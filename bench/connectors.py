"""Connectors benchmark (FreshBooks half): API calls per record for a 10k-record backfill read.

Seeds the in-process FreshBooks sandbox with N clients and N invoices (plus their payments),
then reads every record of each kind through the real connector stack as the runtime opens it
(``FreshBooksClient`` → ``ApiClient`` → ``BearerAuth`` → httpx over ``ASGITransport``) and
prints calls per 100 records, records/s, and p50/p95 per call.
Run: ``uv run python bench/connectors.py [N]``.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import structlog
from pydantic import SecretStr

from freshforce.connectors.freshbooks.client import RESOURCES
from freshforce.runtime import Runtime
from freshforce.sandbox.core import SandboxRuntime
from freshforce.sandbox.freshbooks import DEFAULT_APP, FreshBooksOptions, build_freshbooks
from freshforce.settings import Settings
from freshforce.store.connections import NewConnection, Tokens, save_connection
from freshforce.store.crypto import new_key

API = "http://fb.bench"


def _now() -> datetime:
    return datetime.now(UTC)


class _TimedTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.seconds: list[float] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        began = time.perf_counter()
        response = await self.inner.handle_async_request(request)
        await response.aread()
        self.seconds.append(time.perf_counter() - began)
        return response


async def main(records: int) -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    runtime = SandboxRuntime.create(1)
    sandbox = build_freshbooks(FreshBooksOptions(seed=1), runtime)
    began = time.perf_counter()
    made = sandbox.state.seed(records, 1)
    seeded = time.perf_counter() - began
    transport = _TimedTransport(httpx.ASGITransport(app=sandbox.app))
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}",
            encryption_keys=[SecretStr(new_key())],
            freshbooks_api_url=API,
            freshbooks_client_id=DEFAULT_APP.client_id,
            freshbooks_client_secret=SecretStr(DEFAULT_APP.client_secret),
        )
        app = await Runtime.open(settings, clock=_now, transport=transport)
        minted = sandbox.state.oauth.issue(1001, DEFAULT_APP.client_id, DEFAULT_APP.scopes)
        tokens = Tokens(
            SecretStr(minted["access_token"]),
            SecretStr(minted["refresh_token"]),
            _now() + timedelta(hours=12),
        )
        new = NewConnection("fb", "freshbooks", tokens, remote_account="SBX7QK")
        async with app.engine.begin() as db:
            await save_connection(db, app.cipher, new, now=_now())
        client = await app.freshbooks("fb")
        counter = app.counter
        print(f"FreshBooks backfill read; seeded {made} in {seeded:.1f} s")
        header = f"{'resource':<10} {'records':>8} {'calls':>6} {'calls/100':>9} "
        header += f"{'records/s':>10} {'p50 ms':>7} {'p95 ms':>7}"
        print(header)
        for name in ("clients", "invoices", "payments"):
            before, transport.seconds = counter.calls("fb"), []
            began = time.perf_counter()
            count = sum([len(page.records) async for page in client.list_all(RESOURCES[name])])
            elapsed = time.perf_counter() - began
            calls = counter.calls("fb") - before
            p50 = statistics.median(transport.seconds) * 1000
            p95 = statistics.quantiles(transport.seconds, n=20)[-1] * 1000 if calls > 1 else p50
            print(
                f"{name:<10} {count:>8} {calls:>6} {calls / count * 100:>9.2f} "
                f"{count / elapsed:>10.0f} {p50:>7.1f} {p95:>7.1f}"
            )
        await app.aclose()
    await runtime.aclose()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000))
