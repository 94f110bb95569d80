"""Benchmark of the Salesforce sandbox in process: 1,000 single writes and reads of 1,000 records.

Rows marked HTTP go through the full app (auth, allocation, fault and request-log middlewares)
over ``httpx.ASGITransport``, as the tests do; rows marked state call ``SalesforceState``
directly, which is the sandbox's own cost. The baseline row is an empty FastAPI route over the
same transport: the part of each HTTP row that is framework and client, not sandbox.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import httpx
from fastapi import FastAPI

from freshforce.sandbox.core import SandboxRuntime
from freshforce.sandbox.salesforce.build import build_salesforce_sandbox
from freshforce.sandbox.salesforce.state import WriteContext

API = "/services/data/v59.0"
COUNT = 1000


async def _timed(count: int, call: Callable[[int], Awaitable[None]]) -> tuple[float, list[float]]:
    laps: list[float] = []
    started = time.perf_counter()
    for n in range(count):
        lap = time.perf_counter()
        await call(n)
        laps.append(time.perf_counter() - lap)
    return time.perf_counter() - started, laps


def _row(name: str, count: int, total: float, laps: list[float]) -> str:
    p50 = statistics.median(laps) * 1000
    p95 = statistics.quantiles(laps, n=20)[-1] * 1000 if len(laps) > 1 else p50
    rate = count / total
    return f"{name:<34}{count:>7}{total:>9.3f}{rate:>10.0f}{p50:>9.2f}{p95:>9.2f}"


async def _baseline() -> tuple[float, list[float]]:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://bench.test") as http:

        async def call(_n: int) -> None:
            (await http.get("/ping")).json()

        return await _timed(COUNT, call)


async def _state_rows() -> list[tuple[str, int, float, list[float]]]:
    sandbox = build_salesforce_sandbox(SandboxRuntime.create(seed=2))
    state = sandbox.state
    ctx = WriteContext(user_id=state.admin_user_id)
    ids: list[str] = []

    async def create(n: int) -> None:
        ids.append(state.create("Account", {"Name": f"State {n:04d}"}, ctx))

    async def read(n: int) -> None:
        state.read("Account", ids[n])

    return [
        ("state: create", COUNT, *await _timed(COUNT, create)),
        ("state: read", COUNT, *await _timed(COUNT, read)),
    ]


async def main() -> None:
    runtime = SandboxRuntime.create(seed=1)
    sandbox = build_salesforce_sandbox(runtime, daily_api_limit=1_000_000)
    token = sandbox.sessions.mint(sandbox.state.admin_user_id).access_token
    headers = {"Authorization": f"Bearer {token}"}
    ids: list[str] = []
    transport = httpx.ASGITransport(app=sandbox.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://bench.test") as http:

        async def create(n: int) -> None:
            body = {"Name": f"Bench {n:04d}", "BillingCity": "Lyon"}
            response = await http.post(f"{API}/sobjects/Account", json=body, headers=headers)
            ids.append(response.json()["id"])

        async def update(n: int) -> None:
            body = {"Phone": f"+33 {n:04d}"}
            await http.patch(f"{API}/sobjects/Account/{ids[n]}", json=body, headers=headers)

        async def read(n: int) -> None:
            (await http.get(f"{API}/sobjects/Account/{ids[n]}", headers=headers)).json()

        async def query(_n: int) -> None:
            params = {"q": "SELECT Id, Name, Phone, SystemModstamp FROM Account"}
            body = (await http.get(f"{API}/query", params=params, headers=headers)).json()
            assert body["totalSize"] == COUNT  # noqa: S101 - the bench must read every record

        rows = [
            ("HTTP: create (POST)", COUNT, *await _timed(COUNT, create)),
            ("HTTP: update (PATCH)", COUNT, *await _timed(COUNT, update)),
            ("HTTP: read (GET by id)", COUNT, *await _timed(COUNT, read)),
        ]
        total, laps = await _timed(10, query)
        rows.append(("HTTP: query of 1,000 rows (x10)", 10, total, laps))
    await runtime.aclose()
    rows.extend(await _state_rows())
    rows.append(("baseline: empty FastAPI route", COUNT, *await _baseline()))
    print(f"{'operation':<34}{'count':>7}{'seconds':>9}{'per s':>10}{'p50 ms':>9}{'p95 ms':>9}")
    for name, count, total, laps in rows:
        print(_row(name, count, total, laps))


if __name__ == "__main__":
    asyncio.run(main())
