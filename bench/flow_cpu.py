r"""Measure the CPU and the requests that one synced change costs on the clients flow.

    uv run python bench/flow_cpu.py --database-url postgresql+asyncpg://127.0.0.1/test
    uv run python bench/flow_cpu.py --changes 200 --profile flow.prof   # cProfile of the sync

Both sandboxes run in this process (ASGI, no sockets), the store is a fresh PostgreSQL database
next to the one named (or a SQLite file). A change is a person's new FreshBooks client; the
worker (concurrency 1, batch 1: one change at a time, as a quiet tenant's changes arrive) makes
its Salesforce Account and primary Contact. After ``--warm`` changes that open the tenant's
clients and read the describe, ``--changes`` more are measured:

- CPU ms per change (``time.process_time``), split between the sandboxes (the time inside their
  ASGI apps) and freshforce (the rest: worker, flow, mapping, connectors, store);
- SQL statements per change, and how many of them SQLAlchemy compiled afresh (a cache miss:
  savepoints and other textual statements count there too);
- requests per change that each sandbox served to freshforce, by method and path shape.

Logs are off unless ``--logs``: then they are configured as `freshforce worker` does (info,
console text) and written to /dev/null.

The person's creates are made and timed apart: they are the sandbox's cost of the change itself,
not of syncing it. Wall time is not reported (the machine is shared); CPU seconds are.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import logging
import os
import random
import re
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import structlog
from sqlalchemy import event
from sqlalchemy.engine.interfaces import CacheStats
from sqlalchemy.ext.asyncio import AsyncEngine

from drillkit import fresh_database
from freshforce.embedded import FB_ACCOUNT, Embedded, open_embedded
from freshforce.engine import JobRequest, JobStatus, RetryPolicy, Worker, WorkerConfig
from freshforce.flows import builtin_flows
from freshforce.logs import configure_logging
from freshforce.mapping import MapSet, load_maps, write_defaults
from freshforce.settings import Settings

CLIENTS = f"/accounting/account/{FB_ACCOUNT}/users/clients"
IDS = re.compile(r"/(?:\d+|[a-zA-Z0-9]{15}|[a-zA-Z0-9]{18})(?=/|$)")


def quiet() -> None:
    logging.disable(logging.CRITICAL)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))


class Meter:
    """CPU seconds spent inside the sandboxes' ASGI apps, and the store's SQL statements."""

    def __init__(self) -> None:
        self.inside = 0.0
        self.statements = 0
        self.compiled = 0  # statements SQLAlchemy compiled afresh (not from its cache)

    def count_sql(self, engine: AsyncEngine) -> None:
        def executed(*args: Any) -> None:  # noqa: ANN401 - SQLAlchemy's event arguments
            context = args[4]
            self.statements += 1
            if context.cache_hit is not CacheStats.CACHE_HIT:
                self.compiled += 1

        event.listen(engine.sync_engine, "after_cursor_execute", executed)

    def wrap(self, transport: httpx.AsyncBaseTransport) -> None:
        handle: Callable[[httpx.Request], Awaitable[httpx.Response]]
        handle = transport.handle_async_request

        async def timed(request: httpx.Request) -> httpx.Response:
            began = time.process_time()
            try:
                return await handle(request)
            finally:
                self.inside += time.process_time() - began

        transport.handle_async_request = timed  # type: ignore[method-assign]


def word(rng: random.Random) -> str:
    """Return a made-up business name's first word (names rarely share theirs)."""
    return "".join(rng.choice("bcdfgklmnprstvz") + rng.choice("aeiou") for _ in range(4)).title()


async def create(world: Embedded, rng: random.Random, n: int) -> int:
    first, last = rng.choice(["Ann", "Bo", "Cy", "Di"]), rng.choice(["Lee", "Ng", "Orr", "Poe"])
    body = {
        "client": {
            "organization": f"{word(rng)} {rng.choice(['Ltd', 'Inc', 'LLC', 'GmbH'])}",
            "fname": first,
            "lname": last,
            "email": f"{first.lower()}.{n}@firm{n}.example",
            "p_city": "Toronto",
            "p_province": "ON",
            "p_country": "Canada",
        }
    }
    response = await world.fb_user.post(CLIENTS, json=body)
    response.raise_for_status()
    return int(response.json()["response"]["result"]["client"]["id"])


async def sync(world: Embedded, worker: Worker, ids: list[int]) -> None:
    """Enqueue one job a change and let the worker drain them one at a time."""
    queue = world.runtime.queue()
    async with world.runtime.engine.begin() as db:
        jobs = [JobRequest("clients", f"freshbooks/client/{i}", tenant="default") for i in ids]
        await queue.enqueue_many(db, jobs)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        while True:
            await asyncio.sleep(0.25)
            counts = await queue.counts()
            if not counts.get(JobStatus.PENDING) and not counts.get(JobStatus.RUNNING):
                break
    finally:
        stop.set()
        await task
    dead = counts.get(JobStatus.DEAD, 0)
    if dead:
        msg = f"{dead} jobs dead-lettered"
        raise RuntimeError(msg)


async def requests(admin: httpx.AsyncClient, prefix: str) -> Counter[str]:
    """Count the requests served to freshforce whose path starts with ``prefix``, by shape."""
    served = (await admin.get("/_sandbox/requests")).json()["requests"]
    return Counter(
        f"{r['method']} {IDS.sub('/{id}', r['path'])}"
        for r in served
        if r["path"].startswith(prefix)
    )


async def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="ff-flow-") as tmp:
        config = Path(tmp) / "freshforce"
        write_defaults(config)
        async with fresh_database(args.database_url, Path(tmp), "flow") as url:
            world = await open_embedded(url, config)
            try:
                return await measure(world, load_maps(config, profile="dev"), args, rng)
            finally:
                await world.aclose()


async def measure(
    world: Embedded,
    maps: MapSet,
    args: argparse.Namespace,
    rng: random.Random,
) -> dict[str, Any]:
    meter = Meter()
    meter.wrap(world.fb_transport)
    meter.wrap(world.sf_transport)
    meter.count_sql(world.runtime.engine)
    worker = Worker(
        world.runtime.queue(),
        builtin_flows(world.runtime, maps),
        name="bench-flow",
        policy=RetryPolicy.zero_wait(),
        rng=random.Random(1),
        config=WorkerConfig(concurrency=1, batch_size=1, poll_interval=0.01),
    )
    await sync(world, worker, [await create(world, rng, n) for n in range(args.warm)])
    began = time.process_time()
    ids = [await create(world, rng, args.warm + n) for n in range(args.changes)]
    create_cpu = time.process_time() - began
    for admin in (world.fb_admin, world.sf_admin):
        await admin.delete("/_sandbox/requests")
    meter.inside, meter.statements, meter.compiled = 0.0, 0, 0
    profile = cProfile.Profile(time.process_time) if args.profile else None
    began = time.process_time()
    if profile:
        profile.enable()
    await sync(world, worker, ids)
    if profile:
        profile.disable()
        profile.dump_stats(args.profile)
    total = time.process_time() - began
    n = args.changes
    fb = await requests(world.fb_admin, "/accounting/")
    sf = await requests(world.sf_admin, "/services/")
    return {
        "changes": n,
        "database": "postgresql" if args.database_url else "sqlite",
        "freshforce_cpu_ms_per_change": round(1000 * (total - meter.inside) / n, 2),
        "sandbox_cpu_ms_per_change": round(1000 * meter.inside / n, 2),
        "person_create_cpu_ms_per_change": round(1000 * create_cpu / n, 2),
        "sql_statements_per_change": round(meter.statements / n, 2),
        "sql_compiled_per_change": round(meter.compiled / n, 2),
        "freshbooks_requests_per_change": round(sum(fb.values()) / n, 2),
        "salesforce_requests_per_change": round(sum(sf.values()) / n, 2),
        "freshbooks_requests": {k: round(v / n, 2) for k, v in fb.most_common()},
        "salesforce_requests": {k: round(v / n, 2) for k, v in sf.most_common()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--warm", type=int, default=5, help="changes synced before measuring")
    parser.add_argument("--database-url", default=None, help="PostgreSQL to create a db next to")
    parser.add_argument("--profile", default=None, help="write a cProfile of the sync here")
    parser.add_argument("--logs", action="store_true", help="log at info as the worker does")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.logs:  # as `freshforce worker` logs (info, console text), into /dev/null
        with Path(os.devnull).open("w") as sink:
            configure_logging(Settings(), stream=sink)
            report = asyncio.run(run(args))
    else:
        quiet()
        report = asyncio.run(run(args))
    if args.json:
        print(json.dumps(report, indent=2))
        return
    width = max(map(len, report))
    for key, value in report.items():
        if isinstance(value, dict):
            print(f"{key}:")
            for path, count in value.items():
                print(f"  {count:6.2f}  {path}")
        else:
            print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
