"""Token refresh benchmark: writers during a stalled token call, and grants per token lifetime.

1. A refresh whose token call stalls ``STALL`` seconds (sandbox latency fault) while another
   task commits one job every 20 ms on the same database: the writer's commit latency (p50, p95,
   max) and how many writes failed. Holding the write lock through the call would make each
   write wait up to the whole stall (and fail once the stall outlasts the busy timeout).
2. Calls once per sandbox second for 10 minutes against 60-second tokens: how many grants.

Run: ``uv run python bench/token_refresh.py [DATABASE_URL] [STALL]`` (default: a temporary
SQLite file, 2 s). PostgreSQL: an empty database of its own.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import structlog
from pydantic import SecretStr
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.connectors.core import build_http_client
from freshforce.connectors.oauth import BearerAuth, OAuthProvider, TokenSource
from freshforce.sandbox.core import SandboxRuntime
from freshforce.sandbox.freshbooks import DEFAULT_APP, FreshBooksOptions, build_freshbooks
from freshforce.store.connections import NewConnection, Tokens, save_connection
from freshforce.store.crypto import TokenCipher, new_key
from freshforce.store.engine import create_engine
from freshforce.store.migrate import upgrade
from freshforce.store.queue import JobRequest, enqueue

API = "http://fb.bench"
TOKEN = "/auth/oauth/token"  # noqa: S105 - a path
CLIENTS = "/accounting/account/SBX7QK/users/clients"
PROVIDER = OAuthProvider(
    "freshbooks", f"{API}/oauth/authorize", f"{API}{TOKEN}", DEFAULT_APP.client_id,
    SecretStr(DEFAULT_APP.client_secret), "http://127.0.0.1/cb", refresh_sends_redirect_uri=True,
)  # fmt: skip


async def _connect(engine: AsyncEngine, cipher: TokenCipher, admin: httpx.AsyncClient) -> None:
    minted = (await admin.post("/_sandbox/tokens", json={})).json()
    now = datetime.fromisoformat((await admin.get("/_sandbox/clock")).json()["now"])
    tokens = Tokens(
        SecretStr(minted["access_token"]),
        SecretStr(minted["refresh_token"]),
        now + timedelta(seconds=minted["expires_in"]),
    )
    async with engine.begin() as db:
        await save_connection(db, cipher, NewConnection("fb", "freshbooks", tokens), now=now)


async def stalled_refresh(url: str, stall: float) -> None:
    runtime = SandboxRuntime.create(1)
    transport = httpx.ASGITransport(app=build_freshbooks(FreshBooksOptions(seed=1), runtime).app)
    engine, cipher = create_engine(url), TokenCipher([SecretStr(new_key())])
    async with httpx.AsyncClient(transport=transport, base_url=API) as admin:
        await _connect(engine, cipher, admin)
        fault = {"kind": "latency", "latency_ms": int(stall * 1000), "path": TOKEN, "times": 1}
        await admin.post("/_sandbox/faults", json=fault)
        source = TokenSource(
            engine, cipher, "fb", PROVIDER, clock=runtime.clock.now, transport=transport
        )
        _, version = await source.current()
        refreshing = asyncio.create_task(source.refresh(version))
        waits, failed, n = [], 0, 0
        while not refreshing.done():
            began, n = time.perf_counter(), n + 1
            try:
                async with engine.begin() as db:
                    await enqueue(db, [JobRequest("clients", f"fb/client/{n}")], max_attempts=10)
            except OperationalError:
                failed += 1
            waits.append(time.perf_counter() - began)
            await asyncio.sleep(0.02)
        await refreshing
    await engine.dispose()
    await runtime.aclose()
    p95 = statistics.quantiles(waits, n=20, method="inclusive")[-1] if len(waits) > 1 else waits[0]
    print(f"{'stall s':>8} {'writes':>7} {'failed':>7} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    print(
        f"{stall:>8.1f} {len(waits):>7} {failed:>7} {statistics.median(waits) * 1000:>8.1f} "
        f"{p95 * 1000:>8.1f} {max(waits) * 1000:>8.1f}"
    )


async def short_tokens(url: str, lifetime: int = 60, minutes: int = 10) -> None:
    runtime = SandboxRuntime.create(2)
    options = FreshBooksOptions(seed=2, token_lifetime=lifetime)
    transport = httpx.ASGITransport(app=build_freshbooks(options, runtime).app)
    engine, cipher = create_engine(url), TokenCipher([SecretStr(new_key())])
    async with httpx.AsyncClient(transport=transport, base_url=API) as admin:
        await _connect(engine, cipher, admin)
        source = TokenSource(
            engine, cipher, "fb", PROVIDER, clock=runtime.clock.now, transport=transport
        )
        async with build_http_client(API, transport=transport, auth=BearerAuth(source)) as api:
            for _ in range(minutes * 60):
                (await api.get(CLIENTS)).raise_for_status()
                runtime.clock.advance(1)
        served = (await admin.get("/_sandbox/requests", params={"path": TOKEN})).json()
    await engine.dispose()
    await runtime.aclose()
    grants = len(served["requests"])
    print(f"{'lifetime s':>10} {'calls':>6} {'grants':>7} {'grants/min':>10}")
    print(f"{lifetime:>10} {minutes * 60:>6} {grants:>7} {grants / minutes:>10.1f}")


async def main(url: str | None, stall: float) -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory() as tmp:
        target = url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await upgrade(target)
        print(f"== a token call stalled while another task writes ({target.split(':', 1)[0]})")
        await stalled_refresh(target, stall)
        print("== calls once a second against 60-second tokens")
        await short_tokens(target)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    asyncio.run(
        main(arguments[0] if arguments else None, float(arguments[1]) if arguments[1:] else 2.0)
    )
