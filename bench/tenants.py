r"""Benchmark several integration pairs on one store: lag, isolation, fairness and memory.

    uv run python bench/tenants.py --pairs 1000 --rate 100 --seconds 600 \\
        --database-url postgresql+asyncpg://127.0.0.1/test      # the full load
    uv run python bench/tenants.py --pairs 50 --rate 10 --seconds 60 \\
        --database-url postgresql+asyncpg://127.0.0.1/test      # a short run
    uv run python bench/tenants.py --pairs 3 --rate 3 --seconds 6 --json   # the smoke run
    uv run python bench/tenants.py --layout processes --pairs 1000 --workers 2 \\
        --concurrency 32 --warm 20 --phases 8:240,100:45 \\
        --database-url postgresql+asyncpg://127.0.0.1/test     # every part in its own process

Each pair (tenant ``t0``, ``t1``, …) has its own FreshBooks account and Salesforce org in this
process. By default (``--sandboxes multi``) one FreshBooks sandbox serves every account and one
Salesforce sandbox every org (``freshforce.sandbox.multi``: org ``n`` at instance URL
``https://sf.test/orgs/<n>``, one webhook client for every account's deliveries); with
``--sandboxes separate`` each pair has two sandboxes of its own, the orgs at their own hosts and
the FreshBooks accounts behind one API host, each request handed to the sandbox that issued its
bearer token. The service (web app on a real
socket, the tenants' intake, a worker on the clients flow) runs on one store; with
``--database-url`` a fresh PostgreSQL database is created next to the one named (and dropped),
otherwise a SQLite file. FreshBooks delivers its webhooks over HTTP to the service.

A change is a new FreshBooks client made by a person in one tenant's account; its lag is from
the create to its Account existing in that tenant's org (read from the sandbox's state). The
first half of the run spreads ``--rate`` changes/s evenly; in the second half tenant ``t0`` is
noisy (10 times another tenant's share) at the same total rate, and the quiet tenants' p99 is
compared with their p99 of the first half. Afterwards every org is checked record by record: its
Accounts are exactly its own tenant's clients (no record crossed). RSS is sampled as it runs.

``--layout processes`` (bench/tenants_procs.py) runs the sandboxes as one `freshforce sandbox
--accounts N` process and freshforce as `freshforce listen` plus ``--workers`` `freshforce worker`
processes on PostgreSQL, everything over real sockets; this process only drives and watches, and
samples each process's RSS and CPU on its own. ``--phases`` drives several rates one after another
on the one deployment; ``--warm`` first makes one change in every tenant (each tenant's first
change opens its clients), reported apart.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import random
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
import structlog
from pydantic import SecretStr

import tenants_procs
from drillkit import fresh_database
from freshforce.connectors.core import CallRetryPolicy
from freshforce.connectors.freshbooks.client import RESOURCES, FreshBooksClient
from freshforce.connectors.salesforce.governor import GovernorConfig
from freshforce.flows import builtin_flows
from freshforce.mapping import load_maps
from freshforce.runtime import Runtime
from freshforce.sandbox.core import DeliveryRetryPolicy, SandboxRuntime
from freshforce.sandbox.freshbooks import DEFAULT_APP, FreshBooksOptions, build_freshbooks
from freshforce.sandbox.freshbooks.app import FreshBooksSandbox
from freshforce.sandbox.multi import (
    FreshBooksAccounts,
    account_owner,
    build_freshbooks_accounts,
    build_salesforce_orgs,
)
from freshforce.sandbox.router import HostRouter
from freshforce.sandbox.salesforce.build import SalesforceSandbox, build_salesforce_sandbox
from freshforce.service import Service
from freshforce.settings import Settings
from freshforce.store.connections import NewConnection, Tokens, save_connection
from freshforce.store.crypto import new_key
from freshforce.store.schema import webhook_callbacks

FB_API = "http://fb.test"
REDIRECT = "http://127.0.0.1:9/callback"
NOISY_FACTOR = 10


def quiet() -> None:
    logging.disable(logging.CRITICAL)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Pairs(httpx.AsyncBaseTransport):
    """FreshBooks by bearer token (one API host), each Salesforce org by its host."""

    def __init__(self) -> None:
        self.freshbooks: dict[str, httpx.AsyncBaseTransport] = {}
        self.salesforce: dict[str, httpx.AsyncBaseTransport] = {}
        self.first: httpx.AsyncBaseTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "fb.test":
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            target = self.freshbooks.get(token, self.first)
        else:
            target = self.salesforce.get(request.url.host)
        if target is None:
            raise httpx.ConnectError(f"no sandbox for {request.url}", request=request)
        return await target.handle_async_request(request)


@dataclass
class Pair:
    """One tenant's two sandboxes and the clients made in its FreshBooks account."""

    tenant: str
    fb: FreshBooksSandbox
    sf: SalesforceSandbox
    runtimes: tuple[SandboxRuntime, SandboxRuntime]
    client: FreshBooksClient | None = None
    made: list[str] = field(default_factory=list)


@dataclass
class Change:
    """One FreshBooks client made by a person, and how long its Account took to appear."""

    pair: Pair
    name: str
    started: float
    phase: str
    lag: float | None = None


async def build_pair(n: int, transport: Pairs) -> tuple[Pair, NewConnection, NewConnection]:
    tenant = f"t{n}"
    fb_rt = SandboxRuntime.create(1000 + n, retry=DeliveryRetryPolicy(attempts=5))
    sf_rt = SandboxRuntime.create(seed=1000 + n)
    fb = build_freshbooks(FreshBooksOptions(seed=1000 + n), fb_rt)
    sf = build_salesforce_sandbox(sf_rt, seed=1000 + n, daily_api_limit=10_000_000)
    fb_app = httpx.ASGITransport(app=fb.app)
    host = f"{tenant}.my.salesforce.com"
    transport.salesforce[host] = httpx.ASGITransport(app=sf.app)
    async with httpx.AsyncClient(transport=fb_app, base_url=FB_API) as admin:
        minted = (await admin.post("/_sandbox/tokens", json={})).json()
    transport.freshbooks[minted["access_token"]] = fb_app
    transport.first = transport.first or fb_app
    code = sf.sessions.authorize(
        sf.client_id, REDIRECT, sf.state.admin_user_id, "api refresh_token"
    )
    grant = sf.sessions.exchange_code(sf.client_id, sf.client_secret, code, REDIRECT)
    fb_conn, sf_conn = _connections(
        tenant, minted, grant, "SBX7QK", sf.state.org_id, f"https://{host}"
    )
    return Pair(tenant, fb, sf, (fb_rt, sf_rt)), fb_conn, sf_conn


def _connections(  # noqa: PLR0917 - one pair's grants and where they point
    tenant: str,
    minted: dict[str, Any],
    grant: Any,  # noqa: ANN401 - the Salesforce sandbox's grant
    account: str,
    org_id: str,
    instance_url: str,
) -> tuple[NewConnection, NewConnection]:
    """Return the pair's two connections, from FreshBooks' minted token and Salesforce's grant."""
    expires = datetime.now(UTC) + timedelta(seconds=minted["expires_in"])
    fb_tokens = Tokens(
        SecretStr(minted["access_token"]), SecretStr(minted["refresh_token"]), expires
    )
    refresh = SecretStr(grant.refresh_token or "")
    sf_tokens = Tokens(SecretStr(grant.session.access_token), refresh, None)
    fb_conn = NewConnection(f"fb-{tenant}", "freshbooks", fb_tokens, tenant, account)
    sf_conn = NewConnection(
        f"sf-{tenant}",
        "salesforce",
        sf_tokens,
        tenant,
        remote_account=org_id,
        instance_url=instance_url,
    )
    return fb_conn, sf_conn


def build_shared(
    count: int,
) -> tuple[list[tuple[Pair, NewConnection, NewConnection]], HostRouter, FreshBooksAccounts]:
    """Every pair's account and org in one FreshBooks and one Salesforce sandbox."""
    fb = build_freshbooks_accounts(
        count, FreshBooksOptions(seed=1000), retry=DeliveryRetryPolicy(attempts=5)
    )
    sf, sf_runtimes = build_salesforce_orgs(count, seed=1000, daily_api_limit=10_000_000)
    transport = HostRouter(
        {"fb.test": httpx.ASGITransport(app=fb), "sf.test": httpx.ASGITransport(app=sf)}
    )
    built = []
    for n in range(count):
        tenant = f"t{n}"
        fb_n, sf_n = fb.accounts[n], sf.orgs[n]
        minted = fb_n.state.mint_token(None, None)
        code = sf_n.sessions.authorize(
            sf_n.client_id, REDIRECT, sf_n.state.admin_user_id, "api refresh_token"
        )
        grant = sf_n.sessions.exchange_code(sf_n.client_id, sf_n.client_secret, code, REDIRECT)
        fb_conn, sf_conn = _connections(
            tenant,
            minted,
            grant,
            account_owner(n).account_id,
            sf_n.state.org_id,
            "https://sf.test" + ("" if n == 0 else sf.path_of(n)),
        )
        pair = Pair(tenant, fb_n, sf_n, (fb_n.runtime, sf_runtimes[n]))
        built.append((pair, fb_conn, sf_conn))
    return built, transport, fb


def settings(database_url: str, public_url: str, sf: SalesforceSandbox, args: Any) -> Settings:  # noqa: ANN401
    return Settings(
        database_url=database_url,
        encryption_keys=[SecretStr(new_key())],
        freshbooks_api_url=FB_API,
        freshbooks_client_id=DEFAULT_APP.client_id,
        freshbooks_client_secret=SecretStr(DEFAULT_APP.client_secret),
        freshbooks_redirect_uri=REDIRECT,
        salesforce_login_url="https://sf.test"
        if args.sandboxes == "multi"
        else "https://t0.my.salesforce.com",
        salesforce_client_id=sf.client_id,
        salesforce_client_secret=SecretStr(sf.client_secret),
        salesforce_redirect_uri=REDIRECT,
        poll_interval_seconds=args.poll,
        public_url=public_url,
        cdc=False,
        worker_poll_interval=0.05,
        worker_concurrency=args.concurrency,
        worker_batch_size=args.batch,
        worker_shutdown_timeout=10,
    )


async def watch(changes: list[Change], stop: asyncio.Event) -> None:
    """Note each change's lag once its Account exists in its own org (pending ones only)."""
    seen = 0
    pending: list[Change] = []
    while not stop.is_set():
        now = time.monotonic()
        pending.extend(changes[seen:])
        seen = len(changes)
        waiting = []
        for change in pending:
            if change.pair.sf.state.find("Account", "Name", change.name):
                change.lag = now - change.started
            else:
                waiting.append(change)
        pending = waiting
        await asyncio.sleep(0.05)


async def drive(pairs: list[Pair], args: Any, changes: list[Change]) -> None:  # noqa: ANN401
    rng = random.Random(7)
    half = args.seconds / 2
    start = time.monotonic()
    n = 0
    even = list(itertools.accumulate([1.0] * len(pairs)))
    noisy = list(itertools.accumulate([float(NOISY_FACTOR)] + [1.0] * (len(pairs) - 1)))
    while (elapsed := time.monotonic() - start) < args.seconds:
        phase = "even" if elapsed < half else "noisy"
        pair = rng.choices(pairs, cum_weights=even if phase == "even" else noisy)[0]
        name = f"{pair.tenant} client {n}"
        n += 1
        change = Change(pair, name, time.monotonic(), phase)
        changes.append(change)
        pair.made.append(name)
        if pair.client is None:
            raise RuntimeError(pair.tenant)
        task = pair.client.create(
            RESOURCES["clients"], {"email": f"c{n}@{pair.tenant}.test", "organization": name}
        )
        asyncio.get_running_loop().create_task(task)
        target = start + n / args.rate
        await asyncio.sleep(max(0.0, target - time.monotonic()))


def crossings(pairs: list[Pair]) -> tuple[int, int]:
    """Return (records in an org that are not its tenant's, tenant clients missing in its org)."""
    foreign = missing = 0
    for pair in pairs:
        names = {str(r.get("Name")) for r in pair.sf.state.records("Account")}
        foreign += len(names - set(pair.made))
        missing += len(set(pair.made) - names)
    return foreign, missing


async def wait_for_callbacks(runtime: Runtime, serving: asyncio.Task[None], pairs: int) -> float:
    """Wait until every pair's FreshBooks callback is verified; return how long it took."""
    started = time.monotonic()
    count = sa.select(sa.func.count()).select_from(webhook_callbacks)
    while not serving.done():
        try:
            async with runtime.engine.connect() as db:
                if (await db.execute(count)).scalar_one() >= pairs:
                    break
        except sa.exc.TimeoutError:  # the service's pool is busy: look again
            pass
        await asyncio.sleep(1.0)
    if serving.done():
        await serving  # raises why the service stopped
    return time.monotonic() - started


async def sample_rss(rss: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        rss.append(rss_mb())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 5)


async def settle(changes: list[Change], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while any(c.lag is None for c in changes) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.2)


async def run_service(
    args: argparse.Namespace, url: str, transport: httpx.AsyncBaseTransport, built: list[Any]
) -> tuple[list[Change], float, list[float]]:
    """Start the service on ``url`` with every pair connected, drive the changes, stop."""
    pairs: list[Pair] = [b[0] for b in built]
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    public_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    runtime = await Runtime.open(
        settings(url, public_url, pairs[0].sf, args),
        transport=transport,
        call_retry=CallRetryPolicy.immediate(),
        governor_config=GovernorConfig(reserve=0, step_fraction=0.0),
    )
    async with runtime.engine.begin() as db:
        for _, fb_conn, sf_conn in built:
            await save_connection(db, runtime.cipher, fb_conn, now=datetime.now(UTC))
            await save_connection(db, runtime.cipher, sf_conn, now=datetime.now(UTC))
    for pair in pairs:
        pair.client = await runtime.freshbooks(f"fb-{pair.tenant}")
    maps = load_maps(None)
    flows: dict[str, Any] = {"clients": builtin_flows(runtime, maps)["clients"]}
    stop = asyncio.Event()
    serving = asyncio.create_task(Service(runtime, maps, flows, sock=sock).serve(stop))
    note("service started; registering every pair's FreshBooks callbacks")
    ready = await wait_for_callbacks(runtime, serving, len(pairs))
    note(f"callbacks verified in {ready:.0f} s; driving {args.rate}/s for {args.seconds:.0f} s")
    changes: list[Change] = []
    rss: list[float] = [rss_mb()]
    watching = asyncio.Event()
    helpers = asyncio.gather(watch(changes, watching), sample_rss(rss, watching))
    await drive(pairs, args, changes)
    note(f"driven: {len(changes)} changes, {sum(c.lag is not None for c in changes)} synced")
    await settle(changes, args.settle)
    watching.set()
    await helpers
    stop.set()
    await serving
    await runtime.aclose()
    return changes, ready, rss


def note(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message} (RSS {rss_mb():.0f} MB)", file=sys.stderr)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    quiet()
    if args.layout == "processes":
        if args.database_url is None:
            raise SystemExit("--layout processes runs on PostgreSQL: give --database-url")
        with tempfile.TemporaryDirectory() as folder:
            async with fresh_database(args.database_url, Path(folder), "tenants") as url:
                return await tenants_procs.run(args, url)
    started = time.monotonic()
    shared: FreshBooksAccounts | None = None
    transport: httpx.AsyncBaseTransport
    if args.sandboxes == "multi":
        built, transport, shared = build_shared(args.pairs)
    else:
        transport = Pairs()
        built = [await build_pair(n, transport) for n in range(args.pairs)]
    pairs = [b[0] for b in built]
    start_rss = rss_mb()
    note(f"{args.pairs} pairs built in {time.monotonic() - started:.0f} s")
    with tempfile.TemporaryDirectory() as folder:
        async with fresh_database(args.database_url, Path(folder), "tenants") as url:
            changes, ready, rss = await run_service(args, url, transport, built)
    for pair in pairs:
        for rt in pair.runtimes:
            await rt.aclose()
    if shared is not None:
        await shared.aclose()
    foreign, missing = crossings(pairs)
    return summary(args, changes, ready, [start_rss, *rss], foreign, missing)


def summary(  # noqa: PLR0917 - one report
    args: argparse.Namespace,
    changes: list[Change],
    ready: float,
    rss: list[float],
    foreign: int,
    missing: int,
) -> dict[str, Any]:
    def lags(phase: str, *, noisy: bool | None = None) -> list[float]:
        return [
            c.lag
            for c in changes
            if c.lag is not None
            and c.phase == phase
            and (noisy is None or (c.pair.tenant == "t0") == noisy)
        ]

    quiet_even, quiet_noisy = lags("even", noisy=False), lags("noisy", noisy=False)
    every = [c.lag for c in changes if c.lag is not None]
    even_p99, noisy_p99 = pct(quiet_even, 0.99), pct(quiet_noisy, 0.99)
    return {
        "pairs": args.pairs,
        "rate": args.rate,
        "seconds": args.seconds,
        "database": "postgresql" if args.database_url else "sqlite",
        "callbacks_ready_s": round(ready, 1),
        "changes": len(changes),
        "synced": len(every),
        "lag_p50_s": round(pct(every, 0.5), 3),
        "lag_p99_s": round(pct(every, 0.99), 3),
        "quiet_p99_even_s": round(even_p99, 3),
        "quiet_p99_with_noisy_s": round(noisy_p99, 3),
        "noisy_p99_s": round(pct(lags("noisy", noisy=True), 0.99), 3),
        "fairness_ratio": round(noisy_p99 / even_p99, 2),
        "foreign_records": foreign,
        "missing_records": missing,
        "sandboxes": args.sandboxes,
        "rss_mb_start_mid_end": [round(rss[0]), round(rss[len(rss) // 2]), round(rss[-1])],
        "rss_mb_every_5s": [round(r) for r in rss[1:]],
    }


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--rate", type=float, default=10.0, help="changes per second in all")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--database-url", default=None, help="PostgreSQL to create a db next to")
    parser.add_argument("--poll", type=float, default=3600.0, help="pollers' interval (seconds)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--settle", type=float, default=60.0, help="seconds to wait at the end")
    parser.add_argument(
        "--sandboxes",
        choices=("multi", "separate"),
        default="multi",
        help="one sandbox of each kind serving every pair (multi) or two per pair (separate)",
    )
    parser.add_argument(
        "--layout",
        choices=("in-process", "processes"),
        default="in-process",
        help="sandboxes and service in this process, or each in its own (bench/tenants_procs.py;"
        " needs --database-url)",
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes (processes)")
    parser.add_argument(
        "--phases",
        default="",
        help="processes: RATE:SECONDS,… driven one after another on one deployment, each "
        "settled before the next (default: --rate:--seconds)",
    )
    parser.add_argument(
        "--warm",
        type=float,
        default=0.0,
        help="processes: first one change in every tenant at this rate, reported apart",
    )
    parser.add_argument("--keep-logs", default=None, help="copy the processes' logs here")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    pairs = [part.split(":") for part in args.phases.split(",") if part]
    args.phases = [(float(r), float(t)) for r, t in pairs] or [(args.rate, args.seconds)]
    return args


if __name__ == "__main__":
    arguments = parse()
    result = asyncio.run(main(arguments))
    if arguments.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:28} {value}")
    failed = result["foreign_records"] or result["missing_records"]
    raise SystemExit(1 if failed else 0)
