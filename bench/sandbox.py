"""Sandbox throughput in process: 1,000 single writes and reads of 1,000 records, as a table.

Two layers are timed. "HTTP" drives the FreshBooks sandbox app through ``httpx.ASGITransport``
(no sockets): routing, auth, state, wire format, request log and fault checks (also with a fault
rule aimed at another user, which costs a token lookup per request). A bare FastAPI route
measured the same way is the floor that layer cannot go below. "State" calls the
sandbox's state directly, which is the emulator's own cost.
"""

from __future__ import annotations

import asyncio
import os
import platform
import shutil
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable

import httpx
from fastapi import FastAPI

from freshforce.sandbox.core import SandboxClock
from freshforce.sandbox.freshbooks import FreshBooksOptions, FreshBooksState, build_freshbooks
from freshforce.sandbox.freshbooks.resources import by_plural
from freshforce.sandbox.freshbooks.search import parse_query, select

N = 1_000
ACCOUNT = "SBX7QK"
Row = tuple[str, float, list[float]]


async def timed(name: str, count: int, call: Callable[[int], Awaitable[None]]) -> Row:
    samples = []
    start = time.perf_counter()
    for n in range(count):
        began = time.perf_counter()
        await call(n)
        samples.append(time.perf_counter() - began)
    return name, time.perf_counter() - start, samples


def timed_sync(name: str, count: int, call: Callable[[int], object]) -> Row:
    samples = []
    start = time.perf_counter()
    for n in range(count):
        began = time.perf_counter()
        call(n)
        samples.append(time.perf_counter() - began)
    return name, time.perf_counter() - start, samples


def render(row: Row, records: int = N) -> str:
    name, total, samples = row
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1000
    p95 = ordered[max(int(len(ordered) * 0.95) - 1, 0)] * 1000
    return f"| {name} | {records} | {total:.3f} | {records / total:,.0f} | {p50:.3f} | {p95:.3f} |"


async def http_rows() -> list[str]:
    bare = FastAPI()

    @bare.get("/x")
    async def floor() -> dict[str, int]:
        return {"x": 1}

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=bare), base_url="http://floor"
    ) as http:

        async def floor_get(_n: int) -> None:
            await http.get("/x")

        rows = [render(await timed("HTTP floor: bare FastAPI GET", N, floor_get))]

    sandbox = build_freshbooks(FreshBooksOptions())
    transport = httpx.ASGITransport(app=sandbox.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://fb.bench") as http:
        token = (await http.post("/_sandbox/tokens", json={})).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        base = f"/accounting/account/{ACCOUNT}/users/clients"
        ids: list[int] = []

        async def write(n: int) -> None:
            body = {"client": {"organization": f"Bench {n}", "email": f"b{n}@bench.test"}}
            response = await http.post(base, json=body)
            ids.append(response.json()["response"]["result"]["client"]["id"])

        async def read_one(n: int) -> None:
            response = await http.get(f"{base}/{ids[n]}")
            assert response.status_code == 200  # noqa: S101 - a benchmark that reads errors lies

        async def read_page(n: int) -> None:
            response = await http.get(base, params={"page": n + 1, "per_page": 100})
            assert len(response.json()["response"]["result"]["clients"]) == 100  # noqa: S101

        rows.append(render(await timed("HTTP: single writes (POST client)", N, write)))
        rows.append(render(await timed("HTTP: single reads (GET client)", N, read_one)))
        pages = await timed("HTTP: list reads, 10 pages of 100 (p50/p95 per page)", 10, read_page)
        rows.append(render(pages))
        # A rule aimed at another user makes every request look its token up before handling.
        await http.post("/_sandbox/users", json={"name": "other", "email": "o@bench.test"})
        aimed = {"kind": "latency", "latency_ms": 0, "user": "other"}
        assert (await http.post("/_sandbox/faults", json=aimed)).status_code == 201  # noqa: S101
        label = "HTTP: single writes, a fault rule aimed at another user"
        rows.append(render(await timed(label, N, write)))
    await sandbox.runtime.aclose()
    return rows


def state_rows() -> list[str]:
    state = FreshBooksState(SandboxClock())
    books = state.accounting
    resource = by_plural("clients")
    made: list[int] = []

    def create(n: int) -> None:
        body = {"organization": f"Bench {n}", "email": f"b{n}@bench.test"}
        made.append(books.create(ACCOUNT, "clients", body)["id"])

    def page(n: int) -> None:
        query = parse_query([("page", str(n + 1)), ("per_page", "100")], resource)
        select(books.all(ACCOUNT, "clients"), query)

    return [
        render(timed_sync("State: single writes (create client)", N, create)),
        render(
            timed_sync(
                "State: single reads (get client)",
                N,
                lambda n: books.get(ACCOUNT, "clients", made[n]),
            )
        ),
        render(timed_sync("State: list reads, 10 pages of 100 (per page)", 10, page)),
    ]


def describe_machine() -> str:
    git = shutil.which("git")
    commit = ""
    if git:
        commit = subprocess.run(  # noqa: S603 - a fixed git command
            [git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
    load = os.getloadavg()[0]
    return (
        f"Machine: {os.cpu_count()} CPUs {platform.machine()}, Python "
        f"{platform.python_version()}, load average {load:.1f} at start; commit {commit or '?'}"
    )


def main() -> None:
    print(describe_machine())
    print()
    print("| Operation | Records | Seconds | Records/s | p50 ms | p95 ms |")
    print("|---|---|---|---|---|---|")
    for line in [*asyncio.run(http_rows()), *state_rows()]:
        print(line)


if __name__ == "__main__":
    main()
