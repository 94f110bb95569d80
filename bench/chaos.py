"""The chaos drill: all three flows under faults, then a check of both systems' own state.

    uv run python bench/chaos.py                        # seed 1, 400 changes, 20% faults
    uv run python bench/chaos.py --seed 7 --changes 60 --json   # the reduced run in `make test`

Both sandboxes run in this process; freshforce runs as in service: the web app on a real socket
taking the sandbox's signed webhooks (10% lost, 10% duplicated, reordered), both pollers every
second as the safety net, and a worker killed mid-flight every 10-25 changes. Every request of
freshforce's own users fails with the given probability — 503s, rate limits with Retry-After,
dropped connections, and writes that commit but lose their answer — while a person (another
user, never faulted) creates clients on both sides, edits them (bus phone in FreshBooks, city in
Salesforce), wins deals and records payments. Then the faults stop; the drill waits for quiet,
repairs what reconcile finds, and checks from the sandboxes' own state:

- no lost update: every client shows its last phone and every Account its last city, both sides;
- no duplicate: one client per business in FreshBooks, one Account per business in Salesforce;
- exactly one invoice per won deal, its number written back; every paid deal shows Paid;
- reconcile reports no drift.

It prints the time to converge and the counts; any seed must pass.
"""

import argparse
import asyncio
import contextlib
import random
import socket
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from drillkit import finish, quiet
from freshforce.connectors.salesforce.governor import Priority
from freshforce.embedded import FB_ACCOUNT, SF_CONNECTION, Embedded, open_embedded
from freshforce.engine import JobStatus, QueueConfig, RetryPolicy, Worker, WorkerConfig
from freshforce.engine.queue import JobQueue
from freshforce.flows import builtin_flows
from freshforce.flows.clients_bulk import reconcile
from freshforce.intake import PollTarget
from freshforce.mapping import MapSet, load_maps, write_defaults
from freshforce.web import create_app

FB = f"/accounting/account/{FB_ACCOUNT}"
SF = "/services/data/v59.0"


@dataclass
class Person:
    """Someone working in both systems; their calls are never faulted."""

    world: Embedded
    fb: httpx.AsyncClient
    sf: httpx.AsyncClient
    phones: dict[int, str] = field(default_factory=dict)  # client id → last phone written
    cities: dict[str, str] = field(default_factory=dict)  # Account id → last city written
    deals: dict[str, int] = field(default_factory=dict)  # won Opportunity → its Account's amount
    paid: set[str] = field(default_factory=set)

    async def client(self, name: str) -> int:
        email = name.lower().replace(" ", ".") + "@x.example"
        body = {"client": {"organization": name, "lname": "Chaos", "email": email}}
        made = (await self.fb.post(f"{FB}/users/clients", json=body)).json()
        return int(made["response"]["result"]["client"]["id"])

    async def account(self, name: str) -> str:
        response = await self.sf.post(f"{SF}/sobjects/Account/", json={"Name": name})
        response.raise_for_status()
        return str(response.json()["id"])

    async def phone(self, client_id: int, value: str) -> None:
        body = {"client": {"bus_phone": value}}
        (await self.fb.put(f"{FB}/users/clients/{client_id}", json=body)).raise_for_status()
        self.phones[client_id] = value

    async def city(self, account_id: str, value: str) -> None:
        url = f"{SF}/sobjects/Account/{account_id}"
        (await self.sf.patch(url, json={"BillingCity": value})).raise_for_status()
        self.cities[account_id] = value

    async def win(self, account_id: str, amount: int) -> str:
        body = {
            "Name": f"Deal {account_id[-6:]}", "AccountId": account_id, "Amount": amount,
            "StageName": "Closed Won", "CloseDate": "2026-12-31",
        }  # fmt: skip
        response = await self.sf.post(f"{SF}/sobjects/Opportunity/", json=body)
        response.raise_for_status()
        deal = str(response.json()["id"])
        self.deals[deal] = amount
        return deal

    async def pay_one_invoiced(self, rng: random.Random) -> None:
        """Pay a won deal whose invoice freshforce has made already (if any)."""
        unpaid = sorted(set(self.deals) - self.paid)
        if not unpaid:
            return
        deal = rng.choice(unpaid)
        soql = f"SELECT FreshBooks_Invoice_Id__c FROM Opportunity WHERE Id = '{deal}'"  # noqa: S608
        found = (await self.sf.get(f"{SF}/query", params={"q": soql})).json()["records"]
        if found and found[0]["FreshBooks_Invoice_Id__c"]:
            await self.pay(deal, int(found[0]["FreshBooks_Invoice_Id__c"]))

    async def pay(self, deal: str, invoice_id: int) -> None:
        amount = f"{self.deals[deal]}.00"
        body = {"payment": {"invoiceid": invoice_id, "amount": {"amount": amount, "code": "USD"},
                            "date": "2026-12-04", "type": "Check"}}  # fmt: skip
        (await self.fb.post(f"{FB}/payments/payments", json=body)).raise_for_status()
        self.paid.add(deal)


async def sf_query(world: Embedded, soql: str) -> list[dict[str, Any]]:
    sf = await world.runtime.salesforce(SF_CONNECTION)
    return await sf.query(soql, priority=Priority.BACKFILL)


async def person(world: Embedded) -> Person:
    for admin in (world.fb_admin, world.sf_admin):
        body = {"name": "Pat Person", "email": "pat@example.test", "role": "business_employee"}
        if admin is world.sf_admin:
            body["role"] = "Standard User"
        (await admin.post("/_sandbox/users", json=body)).raise_for_status()
    fb_token = (await world.fb_admin.post("/_sandbox/tokens", json={"user": "Pat Person"})).json()
    sf_token = (await world.sf_admin.post("/_sandbox/tokens", json={"user": "Pat Person"})).json()
    fb = httpx.AsyncClient(
        transport=world.fb_transport,
        base_url=str(world.fb_admin.base_url),
        headers={"Authorization": f"Bearer {fb_token['access_token']}"},
    )
    sf = httpx.AsyncClient(
        transport=world.sf_transport,
        base_url=str(world.sf_admin.base_url),
        headers={"Authorization": f"Bearer {sf_token['access_token']}"},
    )
    return Person(world, fb, sf)


async def faults(world: Embedded, rate: float, *, on: bool) -> None:
    for admin in (world.fb_admin, world.sf_admin):
        await admin.delete("/_sandbox/faults")
        user = (await admin.get("/_sandbox/users")).json()["users"][0]["id"]  # the integration
        if not on:
            continue
        rules = [
            {"kind": "error", "status": 503, "probability": rate / 2},
            {"kind": "rate_limit", "probability": rate / 4, "retry_after": 1},
            {"kind": "drop", "probability": rate / 8},
            {"kind": "ambiguous", "method": "POST", "probability": rate / 8},
            {"kind": "ambiguous", "method": "PATCH", "probability": rate / 8},
            {"kind": "ambiguous", "method": "PUT", "probability": rate / 8},
        ]
        for rule in rules:
            (await admin.post("/_sandbox/faults", json={**rule, "user": user})).raise_for_status()
    mode = {"lossy": 0.1, "duplicate": 0.1, "reorder_seconds": 0.5} if on else {}
    (await world.fb_admin.put("/_sandbox/deliveries/mode", json=mode)).raise_for_status()


class Service:
    """Web app (webhooks), pollers and a worker that can be killed and restarted."""

    def __init__(self, world: Embedded, maps: MapSet, rng: random.Random) -> None:
        self.world, self.maps, self.rng = world, maps, rng
        self.stop = asyncio.Event()
        self.worker: asyncio.Task[None] | None = None
        self.restarts = 0

    def queue(self) -> JobQueue:
        return JobQueue(
            self.world.runtime.engine, config=QueueConfig(lease_seconds=3, max_attempts=100)
        )

    async def start(self) -> str:
        runtime = self.world.runtime
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        app = create_app(
            runtime.engine, settings=runtime.settings, transport=runtime.transport, runtime=runtime
        )
        self.web = uvicorn.Server(
            uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
        )
        self.web_task = asyncio.create_task(self.web.serve(sockets=[self.sock]))
        while not self.web.started:  # noqa: ASYNC110 - uvicorn exposes a flag
            await asyncio.sleep(0.01)
        url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/webhooks/freshbooks/fb-main"
        fb = (await runtime.pair("default")).freshbooks
        for event in ("client.create", "client.update", "invoice.update", "payment.create"):
            await fb.register_callback(event, url)
        while not all(c.verified for c in await fb.list_callbacks()):  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        self.polls = asyncio.create_task(self.poll())
        self.restart()
        return url

    def restart(self) -> None:
        if self.worker is not None:
            self.worker.cancel()  # a crash: its leases expire and another worker takes the jobs
            self.restarts += 1
        worker = Worker(
            self.queue(), builtin_flows(self.world.runtime, self.maps),
            name=f"chaos-{self.rng.getrandbits(24):06x}", policy=RetryPolicy.zero_wait(),
            rng=self.rng, config=WorkerConfig(concurrency=4, batch_size=20, poll_interval=0.05),
        )  # fmt: skip
        self.worker = asyncio.create_task(worker.run(asyncio.Event()))

    async def poll(self) -> None:
        runtime = self.world.runtime
        fb = await runtime.freshbooks_poller("fb-main")
        sf = await runtime.salesforce_poller(SF_CONNECTION)
        targets = [PollTarget("Account", "clients"), PollTarget("Opportunity", "invoices")]
        while True:
            for work in (
                *(fb.poll(stream) for stream in ("clients", "invoices", "payments")),
                *(sf.poll(t) for t in targets),
            ):
                with contextlib.suppress(Exception):  # a faulted poll tries again next tick
                    await work
            await asyncio.sleep(1.0)

    async def quiet(self, within: float) -> None:
        end = time.monotonic() + within
        while time.monotonic() < end:
            counts = await self.queue().counts()
            if not counts.get(JobStatus.PENDING) and not counts.get(JobStatus.RUNNING):
                return
            await asyncio.sleep(0.2)
        raise TimeoutError(f"the queue did not settle in {within} s: {counts}")

    async def close(self) -> None:
        self.polls.cancel()
        if self.worker is not None:
            self.worker.cancel()
        await asyncio.gather(self.polls, self.worker, return_exceptions=True)
        self.web.should_exit = True
        await self.web_task
        self.sock.close()


async def workload(
    person_: Person,
    rng: random.Random,
    changes: int,
    service: Service,
    on_change: Callable[[int], Awaitable[None]] | None = None,
) -> None:
    clients: list[int] = []
    accounts: list[str] = []
    restart_at = rng.randint(10, 25)
    for i in range(changes):
        roll = rng.random()
        if roll < 0.15 or not clients:
            clients.append(await person_.client(f"Fb Co {i:04d}"))
        elif roll < 0.25:
            accounts.append(await person_.account(f"Sf Co {i:04d}"))
        elif roll < 0.55:
            await person_.phone(rng.choice(clients), f"555-{i:04d}")
        elif roll < 0.8 and accounts:
            await person_.city(rng.choice(accounts), f"City {i:04d}")
        elif roll < 0.9 and accounts:
            await person_.win(rng.choice(accounts), rng.randrange(100, 900))
        else:
            await person_.pay_one_invoiced(rng)
        if i == restart_at:  # kill the worker mid-flight every 10-25 changes
            service.restart()
            restart_at = i + rng.randint(10, 25)
        if on_change is not None:
            await on_change(i)
        await asyncio.sleep(rng.uniform(0, 0.02))


async def check(world: Embedded, who: Person, seen: list[str] | None = None) -> Counter[str]:
    """Count what is wrong, from the sandboxes' own state (zero everywhere is a pass).

    ``seen`` gets one line per wrong record, for the report.
    """
    seen = [] if seen is None else seen
    wrong: Counter[str] = Counter()
    clients = [c for page in [await _all(who, f"{FB}/users/clients", "clients")] for c in page]
    by_name = Counter(c["organization"] for c in clients)
    wrong["duplicate clients"] = sum(n - 1 for n in by_name.values())
    accounts = await sf_query(
        world, "SELECT Id, Name, BillingCity, Phone, FreshBooks_Client_Id__c FROM Account"
    )
    wrong["duplicate Accounts"] = sum(n - 1 for n in Counter(a["Name"] for a in accounts).values())
    by_fb = {str(a["FreshBooks_Client_Id__c"]): a for a in accounts if a["FreshBooks_Client_Id__c"]}
    for client_id, phone in who.phones.items():
        if (found := (by_fb.get(str(client_id)) or {}).get("Phone")) != phone:
            wrong["lost phone updates"] += 1
            seen.append(f"client {client_id}: phone {phone!r} written, Account shows {found!r}")
    fb_of = {a["Id"]: a["FreshBooks_Client_Id__c"] for a in accounts}
    cities = {str(c["id"]): c.get("p_city") for c in clients}
    for account_id, city in who.cities.items():
        if (found := cities.get(str(fb_of.get(account_id)))) != city:
            wrong["lost city updates"] += 1
            seen.append(f"Account {account_id}: city {city!r} written, client shows {found!r}")
    invoices = await _all(who, f"{FB}/invoices/invoices", "invoices")
    per_deal = Counter(i.get("po_number") for i in invoices)
    deals = await sf_query(
        world, "SELECT Id, FreshBooks_Invoice_Id__c, FreshBooks_Payment_Status__c FROM Opportunity"
    )
    for deal in deals:
        if per_deal.get(deal["Id"]) != 1:
            wrong["won deals without exactly one invoice"] += 1
        if not deal["FreshBooks_Invoice_Id__c"]:
            wrong["invoice ids not written back"] += 1
        if deal["Id"] in who.paid and deal["FreshBooks_Payment_Status__c"] != "Paid":
            wrong["paid deals not shown Paid"] += 1
    return +wrong


async def _all(who: Person, path: str, plural: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        body = (await who.fb.get(path, params={"page": page, "per_page": 100})).json()
        result = body["response"]["result"]
        found += result[plural]
        if page >= result["pages"]:
            return found
        page += 1


async def _keep(world: Embedded, database: Path, keep: Path) -> None:
    """Keep a failing run's store (a consistent copy) and both sandboxes' request logs."""
    logs = {
        name: (await admin.get("/_sandbox/requests")).text
        for name, admin in (("freshbooks", world.fb_admin), ("salesforce", world.sf_admin))
    }
    await asyncio.to_thread(_write_kept, database, keep, logs)


def _write_kept(database: Path, keep: Path, logs: dict[str, str]) -> None:
    keep.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(database) as source, sqlite3.connect(keep / "chaos.db") as copy:
        source.backup(copy)
    for name, text in logs.items():
        (keep / f"{name}-requests.json").write_text(text)


async def drill(seed: int, changes: int, rate: float, keep: Path | None = None) -> dict[str, Any]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "freshforce"
        write_defaults(config)
        world = await open_embedded(f"sqlite+aiosqlite:///{tmp}/chaos.db", config, seed=seed)
        maps = load_maps(config, profile="dev")
        who = await person(world)
        service = Service(world, maps, rng)
        await service.start()
        await faults(world, rate, on=True)
        started = time.monotonic()
        await workload(who, rng, changes, service)
        # Then pay every deal not paid yet (its invoice exists only through freshforce).
        await faults(world, rate, on=False)
        await service.quiet(300)
        for deal in sorted(set(who.deals) - who.paid):
            soql = f"SELECT FreshBooks_Invoice_Id__c FROM Opportunity WHERE Id = '{deal}'"  # noqa: S608
            [row] = await sf_query(world, soql)
            if row["FreshBooks_Invoice_Id__c"]:
                await who.pay(deal, int(row["FreshBooks_Invoice_Id__c"]))
        await asyncio.sleep(2.5)  # two poll ticks: what the webhooks lost, the pollers find
        await service.quiet(300)
        pair = await world.runtime.pair("default")
        drift = await reconcile(
            maps["clients"], pair, world.runtime.engine, tenant="default", queue=service.queue()
        )
        await service.quiet(300)
        after = await reconcile(maps["clients"], pair, world.runtime.engine, tenant="default")
        converge = time.monotonic() - started
        seen: list[str] = []
        wrong = await check(world, who, seen)
        if keep is not None and (wrong or after.counts):
            await _keep(world, Path(tmp) / "chaos.db", keep)
        wrong.update({f"drift: {k}": v for k, v in after.counts.items()})
        report = {
            "seed": seed,
            "changes": changes,
            "fault_rate": rate,
            "worker_restarts": service.restarts,
            "clients_edited": len(who.phones),
            "accounts_edited": len(who.cities),
            "won_deals": len(who.deals),
            "repaired_by_reconcile": dict(drift.counts),
            "seconds_to_converge": round(converge, 1),
            "wrong": dict(wrong),
            "drift_left": after.samples,
            "wrong_records": seen,
            "calls": world.runtime.counter.snapshot(),
        }
        await service.close()
        await who.fb.aclose()
        await who.sf.aclose()
        await world.aclose()
        return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--changes", type=int, default=400)
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--keep", type=Path, help="on a failure, copy the store and request logs into this folder"
    )
    parser.add_argument(
        "--backend",
        choices=["in-process", "postgresql", "sqlite-run"],
        default="in-process",
        help="in-process: everything here on SQLite; postgresql: `freshforce worker` and "
        "`freshforce listen` processes; sqlite-run: one `freshforce run` process",
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes (postgresql)")
    parser.add_argument(
        "--kill-every", type=float, default=4.0, help="SIGKILL a worker process within N s"
    )
    parser.add_argument("--db-cuts", type=int, default=1, help="pg_terminate_backend rounds")
    parser.add_argument("--listener-kills", type=int, default=0, help="SIGKILLs of the listener")
    parser.add_argument(
        "--listener-kill-at", type=float, default=0.3, help="first listener kill, share of changes"
    )
    parser.add_argument(
        "--no-cdc-faults", action="store_true", help="no change stream drops or gap events"
    )
    args = parser.parse_args()
    quiet()
    if args.backend == "in-process":
        report = asyncio.run(drill(args.seed, args.changes, args.fault_rate, args.keep))
    else:
        from chaos_procs import Options  # noqa: PLC0415 - only for the process modes
        from chaos_procs import drill as process_drill  # noqa: PLC0415 - same

        options = Options(
            args.seed, args.changes, args.fault_rate, backend=args.backend, workers=args.workers,
            kill_every=args.kill_every, db_cuts=args.db_cuts, listener_kills=args.listener_kills,
            listener_kill_at=args.listener_kill_at,
            cdc_faults=not args.no_cdc_faults, keep=args.keep,
        )  # fmt: skip
        report = asyncio.run(process_drill(options))
    finish(report, as_json=args.json, failures=("wrong",))


if __name__ == "__main__":
    main()
