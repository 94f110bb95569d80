"""Benchmark the three flows end to end: change → other side written, and a first sync.

    uv run python bench/e2e.py                          # 200 changes a path; 10k + 10k first sync
    uv run python bench/e2e.py --changes 5 --records 20 --json   # the smoke test's reduced run

Both sandboxes run in this process (ASGI, no sockets for remote calls), the store is a fresh
SQLite file, a real worker runs the built-in flows. Paths:

- FreshBooks webhook: a person edits a client; the sandbox delivers the signed webhook to the web
  app on a real socket; the worker writes the Account. Latency: the edit's start to the commit
  of the field write (read back from the store).
- Salesforce poll: a person edits an Account; a poller ticking every ``--poll`` seconds finds it;
  the worker writes the client.
- Won deal: a person marks an open Opportunity Closed Won; the Opportunity poller (same tick)
  finds it; the worker creates the invoice and writes its id back. Latency: the stage change to
  the commit of the write-back.
- Payment webhook: a person records a payment in FreshBooks; the sandbox delivers the signed
  ``payment.create`` webhook; the worker writes the amounts to the Opportunity.

Salesforce calls per change count every call of the Salesforce connection during the path. The
first sync seeds ``--records`` clients and as many Accounts (half of them the same businesses)
and links them up: time, Salesforce calls per record, and the process's peak RSS (which includes
both sandboxes, holding every record in memory too).
"""

import argparse
import asyncio
import json
import logging
import resource
import socket
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog
import uvicorn

from freshforce.connectors.salesforce.governor import Priority
from freshforce.embedded import FB_ACCOUNT, SF_CONNECTION, Embedded, open_embedded
from freshforce.engine import RetryPolicy, Worker, WorkerConfig
from freshforce.flows import builtin_flows
from freshforce.flows.clients_bulk import apply_initial, plan_initial
from freshforce.intake import PollTarget, SalesforcePoller
from freshforce.mapping import load_maps, write_defaults
from freshforce.store.schema import field_writes
from freshforce.web import create_app

CLIENTS = f"/accounting/account/{FB_ACCOUNT}/users/clients"
PAYMENTS = f"/accounting/account/{FB_ACCOUNT}/payments/payments"


def quiet() -> None:
    logging.disable(logging.CRITICAL)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def written(world: Embedded, field: str, value: str, within: float = 30.0) -> float:
    """Wait until a field write of ``value`` is committed; return the monotonic time seen."""
    t = field_writes.c
    query = sa.select(t.after).where(t.field == field).order_by(t.id.desc()).limit(5)
    end = time.monotonic() + within
    while time.monotonic() < end:
        async with world.runtime.engine.connect() as db:
            if value in (await db.scalars(query)).all():
                return time.monotonic()
        await asyncio.sleep(0.003)
    raise TimeoutError(f"{field}={value} was not written in {within} s")


async def write_seen(world: Embedded, field: str, record_id: str, after: int) -> tuple[float, int]:
    """Wait for a write of ``field`` on ``record_id`` in a row past ``after``; time, row id."""
    t = field_writes.c
    query = sa.select(sa.func.max(t.id)).where(t.field == field, t.record_id == record_id)
    end = time.monotonic() + 30.0
    while time.monotonic() < end:
        async with world.runtime.engine.connect() as db:
            found = (await db.execute(query)).scalar()
        if found is not None and found > after:
            return time.monotonic(), int(found)
        await asyncio.sleep(0.003)
    raise TimeoutError(f"{field} of {record_id} was not written in 30 s")


async def won_path(
    world: Embedded, account_id: str, changes: int, ticker: asyncio.Task[None]
) -> tuple[dict[str, Any], str]:
    """Won deal → invoice while the Opportunity poller ticks; the row and the first deal."""
    sf = await world.runtime.salesforce(SF_CONNECTION)
    deals = []
    for i in range(changes):
        opportunity = {"Name": f"Bench deal {i}", "AccountId": account_id, "Amount": 1000 + i,
                       "StageName": "Prospecting", "CloseDate": "2026-11-30"}  # fmt: skip
        [made] = await sf.create("Opportunity", [opportunity], priority=Priority.CLIENTS)
        deals.append(str(made.id))
    waits: list[float] = []
    calls0 = world.runtime.counter.calls(SF_CONNECTION)
    for deal in deals:
        t0 = time.monotonic()
        body = {"id": deal, "fields": {"StageName": "Closed Won"}}
        await world.sf_admin.post("/_sandbox/salesforce/ui/update", json=body)
        waits.append((await write_seen(world, "FreshBooks_Invoice_Id__c", deal, 0))[0] - t0)
    calls = world.runtime.counter.calls(SF_CONNECTION) - calls0
    ticker.cancel()
    return row("won deal (poll) → invoice", waits, calls / changes), deals[0]


async def payment_path(world: Embedded, deal: str, changes: int) -> dict[str, Any]:
    """Payment webhook → Opportunity written, with no poller running."""
    sf = await world.runtime.salesforce(SF_CONNECTION)
    field = "FreshBooks_Invoice_Id__c"
    back = await sf.get_by_ids("Opportunity", [deal], [field], priority=Priority.CLIENTS)
    invoice = int(back[deal][field])
    waits: list[float] = []
    seen = 0
    calls0 = world.runtime.counter.calls(SF_CONNECTION)
    for _ in range(changes):
        t0 = time.monotonic()
        pay = {"invoiceid": invoice, "amount": {"amount": "10.00"}, "date": "2026-12-01"}
        await world.fb_user.post(PAYMENTS, json={"payment": pay})
        at, seen = await write_seen(world, "FreshBooks_Amount_Paid__c", deal, seen)
        waits.append(at - t0)
    calls = world.runtime.counter.calls(SF_CONNECTION) - calls0
    return row("payment webhook → Opportunity", waits, calls / changes)


async def ticking(poller: SalesforcePoller, target: PollTarget, every: float) -> None:
    while True:
        await poller.poll(target)
        await asyncio.sleep(every)


async def start_web(
    world: Embedded,
) -> tuple[str, uvicorn.Server, asyncio.Task[None], socket.socket]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    app = create_app(
        world.runtime.engine, settings=world.runtime.settings, transport=world.runtime.transport
    )
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
        await asyncio.sleep(0.01)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server, task, sock


async def latency(changes: int, poll: float) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "freshforce"
        write_defaults(config)
        world = await open_embedded(f"sqlite+aiosqlite:///{tmp}/bench.db", config)
        maps = load_maps(config, profile="dev")
        worker = Worker(
            world.runtime.queue(), builtin_flows(world.runtime, maps), name="bench",
            policy=RetryPolicy.zero_wait(), rng=world.runtime.rng,
            config=WorkerConfig(concurrency=4, batch_size=20, poll_interval=0.005),
        )  # fmt: skip
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop))
        url, server, web, sock = await start_web(world)
        fb = (await world.runtime.pair("default")).freshbooks
        for event in ("client.create", "client.update", "payment.create"):
            await fb.register_callback(event, f"{url}/webhooks/freshbooks/fb-main")
        while not all(c.verified for c in await fb.list_callbacks()):  # noqa: ASYNC110 - remote state
            await asyncio.sleep(0.02)
        made = await world.fb_user.post(
            CLIENTS, json={"client": {"organization": "Bench Co", "lname": "Mark"}}
        )
        fb_id = made.json()["response"]["result"]["client"]["id"]
        await written(world, "FreshBooks_Client_Id__c", str(fb_id))
        rows = []
        waits: list[float] = []
        calls0 = world.runtime.counter.calls(SF_CONNECTION)
        for i in range(changes):
            value = f"555-{i:04d}"
            t0 = time.monotonic()
            await world.fb_user.put(f"{CLIENTS}/{fb_id}", json={"client": {"bus_phone": value}})
            waits.append(await written(world, "Phone", value) - t0)
        calls = world.runtime.counter.calls(SF_CONNECTION) - calls0
        rows.append(row("FreshBooks webhook → Account", waits, calls / changes))

        sf = await world.runtime.salesforce(SF_CONNECTION)
        [found] = await sf.query(
            f"SELECT Id FROM Account WHERE FreshBooks_Client_Id__c = '{fb_id}'",  # noqa: S608
            priority=Priority.CLIENTS,
        )
        poller = await world.runtime.salesforce_poller(SF_CONNECTION)
        target = PollTarget("Account", "clients")
        ticker = asyncio.create_task(ticking(poller, target, poll))
        waits = []
        calls0 = world.runtime.counter.calls(SF_CONNECTION)
        for i in range(changes):
            value = f"City {i}"
            t0 = time.monotonic()
            body = {"id": found["Id"], "fields": {"BillingCity": value}}
            await world.sf_admin.post("/_sandbox/salesforce/ui/update", json=body)
            waits.append(await written(world, "p_city", value) - t0)
        calls = world.runtime.counter.calls(SF_CONNECTION) - calls0
        rows.append(row(f"Salesforce poll ({poll} s) → client", waits, calls / changes))
        ticker.cancel()
        deals = asyncio.create_task(ticking(poller, PollTarget("Opportunity", "invoices"), poll))
        won, deal = await won_path(world, str(found["Id"]), changes, deals)
        rows += [won, await payment_path(world, deal, changes)]
        stop.set()
        await running
        server.should_exit = True
        await web
        sock.close()
        await world.aclose()
        return rows


def row(path: str, waits: list[float], calls: float) -> dict[str, Any]:
    return {
        "path": path,
        "changes": len(waits),
        "p50_ms": round(statistics.median(waits) * 1000, 1),
        "p99_ms": round(pct(waits, 0.99) * 1000, 1),
        "sf_calls_per_change": round(calls, 2),
    }


async def first_sync(records: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "freshforce"
        write_defaults(config)
        world = await open_embedded(f"sqlite+aiosqlite:///{tmp}/bench.db", config)
        half = records // 2
        clients = [
            {
                "fields": {
                    "organization": f"Company {i:06d}",
                    "lname": f"Person{i}",
                    "email": f"p{i}@c{i}.example",
                }
            }
            for i in range(records)
        ]
        response = await world.fb_admin.post(
            "/_sandbox/freshbooks/records", json={"resource": "clients", "records": clients}
        )
        response.raise_for_status()
        accounts = [{"fields": {"Name": f"Company {i + half:06d} Ltd"}} for i in range(records)]
        response = await world.sf_admin.post(
            "/_sandbox/salesforce/records",
            json={"object": "Account", "records": accounts, "events": False},
        )
        response.raise_for_status()
        maps = load_maps(config, profile="dev")
        pair = await world.runtime.pair("default")
        calls0 = world.runtime.counter.calls(SF_CONNECTION)
        t0 = time.monotonic()
        plan = await plan_initial(maps["clients"], pair, world.runtime.engine, tenant="default")
        done = await apply_initial(plan, world.runtime.engine)
        seconds = time.monotonic() - t0
        calls = world.runtime.counter.calls(SF_CONNECTION) - calls0
        await world.aclose()
        return {
            "records": f"{records} + {records}",
            "seconds": round(seconds, 1),
            "sf_calls": calls,
            "sf_calls_per_100_records": round(100 * calls / (2 * records), 2),
            "linked": done.counts["link"],
            "created": done.counts["create in Salesforce"] + done.counts["create in FreshBooks"],
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--poll", type=float, default=0.25)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    quiet()
    rows = asyncio.run(latency(args.changes, args.poll))
    sync = asyncio.run(first_sync(args.records))
    if args.json:
        print(json.dumps({"latency": rows, "first_sync": sync}))
        return
    print(f"{'path':<36} {'changes':>7} {'p50 ms':>8} {'p99 ms':>8} {'SF calls/change':>16}")
    for r in rows:
        cells = (r["changes"], r["p50_ms"], r["p99_ms"])
        numbers = " ".join(f"{c:>8}" for c in cells)
        print(f"{r['path']:<36} {numbers} {r['sf_calls_per_change']:>16}")
    print()
    print(" | ".join(f"{k}: {v}" for k, v in sync.items()))


if __name__ == "__main__":
    main()
