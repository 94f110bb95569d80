r"""bench/tenants.py --layout processes: the sandboxes and freshforce each in their own processes.

    uv run python bench/tenants.py --layout processes --pairs 1000 --rate 100 --seconds 600 \\
        --database-url postgresql+asyncpg://127.0.0.1/test

One `freshforce sandbox --accounts N` process serves every pair's FreshBooks account and
Salesforce org over real sockets. freshforce runs as one `freshforce listen` process (the web app
taking every tenant's webhooks, pollers every ``--poll`` seconds, no CDC) and ``--workers``
`freshforce worker` processes on a fresh PostgreSQL database. This process mints each pair's
tokens through the sandbox's admin API, stores the pairs' connections, then drives the changes
(a person's new FreshBooks client, over HTTP) at ``--rate`` and watches each org for the
Account: a change's lag runs from FreshBooks' answer to the create to the Account's
``CreatedDate`` in the tenant's org (both clocks are this machine's). The RSS and CPU time of
every process (the sandboxes, the listener, each worker, this driver) are sampled every 5 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx
import sqlalchemy as sa
from pydantic import SecretStr

from freshforce.mapping import write_defaults
from freshforce.runtime import Runtime
from freshforce.sandbox.freshbooks import DEFAULT_APP
from freshforce.sandbox.multi import account_owner
from freshforce.settings import Settings
from freshforce.store.connections import NewConnection, Tokens, save_connection
from freshforce.store.crypto import new_key
from freshforce.store.schema import jobs, webhook_callbacks

FRESHFORCE = str(Path(sys.executable).parent / "freshforce")
NOISY_FACTOR = 10
CALLBACKS_PER_PAIR = 3  # client, invoice, payment: the events of the built-in flows
SEED = 1000
REDIRECT = "http://127.0.0.1:9/callback"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20


def note(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


@dataclass
class Tenant:
    """One pair: its number, its FreshBooks account and a person's token in it."""

    number: int
    account_id: str
    person: str = ""
    made: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"t{self.number}"


@dataclass
class Change:
    """One client made by a person; its answer and its Account's creation (wall clock)."""

    tenant: Tenant
    name: str
    phase: str
    asked: float
    answered: float | None = None
    created: float | None = None
    client_id: str | None = None
    enqueued: float | None = None  # its job's created_at

    @property
    def lag(self) -> float | None:
        if self.answered is None or self.created is None:
            return None
        return max(0.0, self.created - self.answered)


@dataclass
class Proc:
    """One child process, its log, and its samples: (seconds, RSS MB, CPU seconds)."""

    role: str
    popen: subprocess.Popen[bytes]
    log: IO[bytes]
    path: Path
    samples: list[tuple[float, float, float]] = field(default_factory=list)

    def sample(self, since: float) -> None:
        if self.popen.poll() is not None:
            return
        try:
            stat = Path(f"/proc/{self.popen.pid}/stat").read_text()
            statm = Path(f"/proc/{self.popen.pid}/statm").read_text()
        except OSError:
            return
        fields = stat.rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime
        rss = int(statm.split()[1]) * PAGE_MB
        self.samples.append((round(time.monotonic() - since, 1), rss, cpu))


class SelfProc:
    """This driver process, sampled like the children."""

    role = "driver"

    def __init__(self) -> None:
        self.samples: list[tuple[float, float, float]] = []

    def sample(self, since: float) -> None:
        statm = Path("/proc/self/statm").read_text()
        times = os.times()
        rss = int(statm.split()[1]) * PAGE_MB
        self.samples.append((round(time.monotonic() - since, 1), rss, times.user + times.system))


class Children:
    """The sandbox, listener and worker processes."""

    def __init__(self, logs: Path, env: dict[str, str]) -> None:
        self.logs, self.env = logs, env
        self.procs: list[Proc] = []

    def start(self, role: str, command: list[str], *, stdout_to_log: bool = False) -> Proc:
        path = self.logs / f"{len(self.procs):02d}-{role}.log"
        log = path.open("w+b")
        popen = subprocess.Popen(  # noqa: S603 - the bench's own children
            command,
            env=self.env,
            stdout=log if stdout_to_log else subprocess.DEVNULL,
            stderr=log,
        )
        proc = Proc(role, popen, log, path)
        self.procs.append(proc)
        return proc

    def check(self) -> None:
        for proc in self.procs:
            if proc.popen.poll() is not None:
                tail = proc.path.read_bytes().decode(errors="replace")[-3000:]
                raise SystemExit(f"{proc.role} exited ({proc.popen.returncode}): {tail}")

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM if proc.role != "sandbox" else signal.SIGINT)
        for proc in reversed(self.procs):
            try:
                proc.popen.wait(60)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait()
            proc.log.close()


async def start_sandbox(children: Children, pairs: int) -> tuple[str, str]:
    """Start `freshforce sandbox --accounts N` on free ports; return its FreshBooks and SF URLs."""
    ports = ("--freshbooks-port", "0", "--salesforce-port", "0", "--pubsub-port", "0")
    command = [FRESHFORCE, "sandbox", "--accounts", str(pairs), "--seed", str(SEED), *ports]
    proc = children.start("sandbox", command, stdout_to_log=True)
    end = time.monotonic() + 1800  # 1,000 accounts and orgs take minutes to build
    while time.monotonic() < end:
        text = proc.path.read_text(errors="replace")
        if "Ready." in text:
            fb = re.findall(r"^FreshBooks sandbox\s+(\S+)", text, re.MULTILINE)[0]
            sf = re.findall(r"^Salesforce sandbox\s+(\S+)", text, re.MULTILINE)[0]
            return fb, sf
        children.check()
        await asyncio.sleep(0.5)
    raise SystemExit("the sandbox did not start in 1800 s")


async def mint(
    fb: httpx.AsyncClient, sf: httpx.AsyncClient, tenant: Tenant, sf_url: str
) -> tuple[NewConnection, NewConnection]:
    """Mint the pair's tokens (freshforce's two, and a person's) and return its connections."""
    n = tenant.number
    fb_grant = (await fb.post(f"/_sandbox/accounts/{n}/tokens", json={})).raise_for_status().json()
    person = await fb.post(f"/_sandbox/accounts/{n}/tokens", json={"client": "bench-person"})
    tenant.person = person.raise_for_status().json()["access_token"]
    sf_grant = (await sf.post(f"/orgs/{n}/_sandbox/tokens", json={})).raise_for_status().json()
    expires = datetime.now(UTC) + timedelta(seconds=fb_grant["expires_in"])
    fb_tokens = Tokens(
        SecretStr(fb_grant["access_token"]), SecretStr(fb_grant["refresh_token"]), expires
    )
    sf_tokens = Tokens(SecretStr(sf_grant["access_token"]), SecretStr(""), None)
    return (
        NewConnection(f"fb-{tenant.name}", "freshbooks", fb_tokens, tenant.name, tenant.account_id),
        NewConnection(
            f"sf-{tenant.name}",
            "salesforce",
            sf_tokens,
            tenant.name,
            remote_account=sf_grant["organization_id"],
            instance_url=f"{sf_url}/orgs/{n}",
        ),
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def freshforce_env(
    database_url: str, key: str, config: Path, fb_url: str, sf_url: str
) -> dict[str, str]:
    return {
        **os.environ,
        "FRESHFORCE_DATABASE_URL": database_url,
        "FRESHFORCE_ENCRYPTION_KEYS": key,
        "FRESHFORCE_CONFIG_DIR": str(config),
        "FRESHFORCE_PROFILE": "dev",
        "FRESHFORCE_FRESHBOOKS_API_URL": fb_url,
        "FRESHFORCE_FRESHBOOKS_AUTH_URL": fb_url,
        "FRESHFORCE_FRESHBOOKS_CLIENT_ID": DEFAULT_APP.client_id,
        "FRESHFORCE_FRESHBOOKS_CLIENT_SECRET": DEFAULT_APP.client_secret,
        "FRESHFORCE_FRESHBOOKS_REDIRECT_URI": REDIRECT,
        "FRESHFORCE_SALESFORCE_LOGIN_URL": sf_url,
        "FRESHFORCE_SALESFORCE_CLIENT_ID": "freshforce-sandbox",
        "FRESHFORCE_SALESFORCE_CLIENT_SECRET": "sandbox-secret",
        "FRESHFORCE_SALESFORCE_REDIRECT_URI": REDIRECT,
        "FRESHFORCE_LOG_LEVEL": os.environ.get("TENANTS_LOG_LEVEL", "warning"),
        "FRESHFORCE_LOG_JSON": "false",
    }


async def wait_for_callbacks(runtime: Runtime, children: Children, pairs: int) -> float:
    """Wait until every pair's three callbacks (client, invoice, payment) are verified.

    `listen` runs every flow: each pair registers a callback for each of the three events.
    """
    started = time.monotonic()
    pairs *= CALLBACKS_PER_PAIR
    count = sa.select(sa.func.count()).select_from(webhook_callbacks)
    last = -1
    while True:
        children.check()
        async with runtime.engine.connect() as db:
            have = (await db.execute(count)).scalar_one()
        if have >= pairs:
            return time.monotonic() - started
        if have // 300 != last // 300:
            note(f"{have} of {pairs} callbacks verified")
        last = have
        await asyncio.sleep(1.0)


async def missed_deliveries(
    fb: httpx.AsyncClient, changes: list[Change], values: list[list[Any]]
) -> dict[str, int]:
    """Count the webhooks of the clients missing in their org by their last delivery outcome."""
    missing: dict[int, set[str]] = {}
    for change in changes:
        names = values[change.tenant.number]
        if change.client_id is not None and change.name not in names:
            missing.setdefault(change.tenant.number, set()).add(change.client_id)
    outcomes: dict[str, int] = {}
    for number, ids in missing.items():
        log = (await fb.get(f"/_sandbox/accounts/{number}/deliveries")).json()
        last: dict[str, str] = {}
        for attempt in log["attempts"]:
            if attempt["event"].startswith("client") and attempt["object_id"] in ids:
                outcome = f"{attempt['outcome']} {attempt['status']} {attempt['error'] or ''}"
                last[attempt["object_id"]] = outcome.strip()
        for client_id in ids:
            key = last.get(client_id, "no delivery attempt")
            outcomes[key] = outcomes.get(key, 0) + 1
        outcomes["still queued in the sandbox"] = outcomes.get(
            "still queued in the sandbox", 0
        ) + int(log["pending"])
    return outcomes


async def enqueued(runtime: Runtime, changes: list[Change]) -> None:
    """Note when each change's first job was stored (splitting lag into intake and the rest)."""
    query = sa.select(jobs.c.tenant, jobs.c.key, sa.func.min(jobs.c.created_at)).group_by(
        jobs.c.tenant, jobs.c.key
    )
    async with runtime.engine.connect() as db:
        first = {(t, k): at.timestamp() for t, k, at in await db.execute(query)}
    for change in changes:
        key = (change.tenant.name, f"freshbooks/client/{change.client_id}")
        change.enqueued = first.get(key)


def _created(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


async def watch(sf: httpx.AsyncClient, changes: list[Change], stop: asyncio.Event) -> None:
    """Note each answered change's Account creation, asking the orgs in one call a round."""
    seen = 0
    pending: dict[tuple[int, str], Change] = {}
    while not stop.is_set():
        for change in changes[seen:]:
            pending[(change.tenant.number, change.name)] = change
        seen = len(changes)
        asked = [[n, name] for (n, name), c in pending.items() if c.answered is not None]
        if asked:
            body = {"sobject": "Account", "field": "Name", "values": asked}
            with contextlib.suppress(httpx.HTTPError):
                answer = await sf.post("/_sandbox/orgs/find", json=body, timeout=60)
                for n, name, _, created in answer.raise_for_status().json()["found"]:
                    if (n, name) in pending:
                        pending.pop((n, name)).created = _created(created)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


async def create(fb: httpx.AsyncClient, change: Change, n: int, failures: list[str]) -> None:
    tenant = change.tenant
    body = {"client": {"email": f"c{n}@{tenant.name}.test", "organization": change.name}}
    try:
        done = await fb.post(
            f"/accounting/account/{tenant.account_id}/users/clients",
            json=body,
            headers={"Authorization": f"Bearer {tenant.person}"},
            timeout=120,
        )
        done.raise_for_status()
    except httpx.HTTPError as exc:
        failures.append(f"{change.name}: {exc!r}")
        return
    change.answered = time.time()
    change.client_id = str(done.json()["response"]["result"]["client"]["id"])
    tenant.made.append(change.name)


async def drive(  # noqa: PLR0917 - one phase's parts
    fb: httpx.AsyncClient,
    tenants: list[Tenant],
    rate: float,
    seconds: float,
    changes: list[Change],
    phase: str = "",
) -> list[str]:
    """Make ``rate`` changes a second for ``seconds``: even, then ``t0`` ten times as busy.

    ``phase`` "warm" makes one change in each tenant instead, in turn, at ``rate``.
    """
    rng = random.Random(7 + len(changes))
    half = seconds / 2
    start = time.monotonic()
    even = list(itertools.accumulate([1.0] * len(tenants)))
    noisy = list(itertools.accumulate([float(NOISY_FACTOR)] + [1.0] * (len(tenants) - 1)))
    failures: list[str] = []
    tasks: set[asyncio.Task[None]] = set()
    n = 0
    while True:
        elapsed = time.monotonic() - start
        if phase == "warm":
            if n >= len(tenants):
                break
            tenant, part = tenants[n], ""
        else:
            if elapsed >= seconds:
                break
            part = "even" if elapsed < half else "noisy"
            tenant = rng.choices(tenants, cum_weights=even if part == "even" else noisy)[0]
        number = len(changes)
        change = Change(tenant, f"{tenant.name} client {number}", phase + part, time.time())
        changes.append(change)
        task = asyncio.create_task(create(fb, change, number, failures))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        n += 1
        await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
    await asyncio.gather(*tasks)
    return failures


async def sample(procs: Callable[[], list[Any]], since: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        for proc in procs():
            proc.sample(since)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 5)


async def settle(changes: list[Change], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all(c.created is not None for c in changes if c.answered is not None):
            return
        await asyncio.sleep(0.5)


def keep(logs: Path, kept: Path) -> None:
    kept.mkdir(parents=True, exist_ok=True)
    for path in logs.iterdir():
        (kept / path.name).write_bytes(path.read_bytes())


async def run(args: Any, url: str) -> dict[str, Any]:  # noqa: ANN401 - one run, step by step
    since = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ff-tenants-") as tmp:
        logs = Path(tmp) / "logs"
        logs.mkdir()
        config = Path(tmp) / "freshforce"
        write_defaults(config)
        children = Children(logs, dict(os.environ))
        driver = SelfProc()
        stop_sampling = asyncio.Event()
        every = lambda: [driver, *children.procs]  # noqa: E731 - the processes so far
        sampling = asyncio.create_task(sample(every, since, stop_sampling))
        try:
            fb_url, sf_url = await start_sandbox(children, args.pairs)
            up = time.monotonic() - since
            note(f"sandbox with {args.pairs} accounts and orgs up in {up:.0f} s")
            report = await _with_sandbox(args, url, children, (fb_url, sf_url), config, since)
        finally:
            stop_sampling.set()
            with contextlib.suppress(asyncio.CancelledError):
                await sampling
            children.stop()
            if args.keep_logs:
                keep(logs, Path(args.keep_logs))
    window = report.pop("window")
    report["processes"] = processes_report([driver, *children.procs], window)
    return report


async def _with_sandbox(  # noqa: PLR0915, PLR0917 - one run, step by step
    args: Any,  # noqa: ANN401 - bench/tenants.py's flags
    url: str,
    children: Children,
    urls: tuple[str, str],
    config: Path,
    since: float,
) -> dict[str, Any]:
    fb_url, sf_url = urls
    key = new_key()
    tenants = [Tenant(n, account_owner(n).account_id) for n in range(args.pairs)]
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with (
        httpx.AsyncClient(base_url=fb_url, limits=limits, timeout=120) as fb,
        httpx.AsyncClient(base_url=sf_url, limits=limits, timeout=120) as sf,
    ):
        gate = asyncio.Semaphore(16)

        async def minted(tenant: Tenant) -> tuple[NewConnection, NewConnection]:
            async with gate:
                return await mint(fb, sf, tenant, sf_url)

        grants = await asyncio.gather(*(minted(t) for t in tenants))
        port = free_port()
        env = freshforce_env(url, key, config, fb_url, sf_url)
        settings = Settings(
            database_url=url,
            encryption_keys=[SecretStr(key)],
            config_dir=config,
            freshbooks_api_url=fb_url,
            salesforce_login_url=sf_url,
        )
        runtime = await Runtime.open(settings)
        try:
            async with runtime.engine.begin() as db:
                for fb_conn, sf_conn in grants:
                    await save_connection(db, runtime.cipher, fb_conn, now=datetime.now(UTC))
                    await save_connection(db, runtime.cipher, sf_conn, now=datetime.now(UTC))
            note(f"{args.pairs} pairs connected; starting listen and {args.workers} worker(s)")
            children.env = env
            public = f"http://127.0.0.1:{port}"
            intake = ("--no-cdc", "--poll-seconds", str(args.poll), "--port", str(port))
            children.start("listen", [FRESHFORCE, "listen", *intake, "--public-url", public])
            for _ in range(args.workers):
                sizes = ("--concurrency", str(args.concurrency), "--batch-size", str(args.batch))
                children.start("worker", [FRESHFORCE, "worker", *sizes, "--poll-interval", "0.05"])
            ready = await wait_for_callbacks(runtime, children, args.pairs)
            note(f"callbacks verified in {ready:.0f} s")
            changes: list[Change] = []
            stop = asyncio.Event()
            watching = asyncio.create_task(watch(sf, changes, stop))
            driven = time.monotonic()
            failures: list[str] = []
            phases = []
            plan = [("warm", args.warm, 0.0)] if args.warm else []
            plan += [(f"p{i}:", rate, secs) for i, (rate, secs) in enumerate(args.phases)]
            for name, rate, secs in plan:
                first = len(changes)
                began = time.monotonic()
                failures += await drive(fb, tenants, rate, secs, changes, name)
                made_in = time.monotonic() - began
                mine = changes[first:]
                note(f"{name} driven: {len(mine)} changes at {rate}/s in {made_in:.0f} s")
                await settle(mine, args.settle)
                phases.append((name, rate, secs, mine, made_in, began - since))
                note(f"{name} settled: {sum(c.created is not None for c in mine)} synced")
            window = (driven - since, time.monotonic() - since)
            stop.set()
            await watching
            children.check()
            counts = await runtime.queue().counts()
            await enqueued(runtime, changes)
            values = (
                await sf.get(
                    "/_sandbox/orgs/values",
                    params={"sobject": "Account", "field": "Name"},
                    timeout=300,
                )
            ).json()["orgs"]
            deliveries = await missed_deliveries(fb, changes, values)
        finally:
            await runtime.aclose()
    foreign = missing = 0
    for tenant, names in zip(tenants, values, strict=True):
        have = set(map(str, names))
        foreign += len(have - set(tenant.made))
        missing += len(set(tenant.made) - have)
    measured = [p for p in phases if p[0] != "warm"]
    every = [c for p in measured for c in p[3]]
    made_in = sum(p[4] for p in measured)
    report = summary(args, every, ready, ("measured", None, None, every, made_in, measured[0][5]))
    report["phases"] = [summary(args, p[3], ready, p) for p in phases]
    report.update(
        create_failures=len(failures),
        failures_sample=failures[:5],
        foreign_records=foreign,
        missing_records=missing,
        queue_left={str(k): v for k, v in counts.items()},
        missing_deliveries=deliveries,
        window=window,
    )
    return report


def summary(
    args: Any,  # noqa: ANN401 - bench/tenants.py's flags
    changes: list[Change],
    ready: float,
    phase: tuple[Any, ...],
) -> dict[str, Any]:
    """Lag, fairness and isolation of ``changes`` (a phase's: name, rate, seconds, …, made in)."""
    name, rate, seconds, _, made_in, began = phase

    def lags(phase: str | None = None, *, noisy: bool | None = None) -> list[float]:
        return [
            c.lag
            for c in changes
            if c.lag is not None
            and (phase is None or c.phase.endswith(phase))
            and (noisy is None or (c.tenant.number == 0) == noisy)
        ]

    answered = [c for c in changes if c.answered is not None]
    every = lags()
    even_p99, noisy_p99 = (
        pct(lags("even", noisy=False), 0.99),
        pct(lags("noisy", noisy=False), 0.99),
    )
    create_s = [c.answered - c.asked for c in answered if c.answered is not None]
    intake = [c.enqueued - c.answered for c in answered if c.enqueued and c.answered]
    rest = [c.created - c.enqueued for c in answered if c.enqueued and c.created]
    return {
        "layout": "processes",
        "phase": name,
        "started_s": round(began, 1),
        "pairs": args.pairs,
        "rate_asked": rate,
        "seconds": seconds,
        "workers": args.workers,
        "database": "postgresql",
        "callbacks_ready_s": round(ready, 1),
        "changes": len(changes),
        "rate_made": round(len(answered) / made_in, 1),
        "create_p50_s": round(pct(create_s, 0.5), 3),
        "create_p99_s": round(pct(create_s, 0.99), 3),
        "synced": len(every),
        "lag_p50_s": round(pct(every, 0.5), 3),
        "lag_p99_s": round(pct(every, 0.99), 3),
        "lag_max_s": round(max(every, default=float("nan")), 3),
        "intake_p50_p99_s": [round(pct(intake, 0.5), 3), round(pct(intake, 0.99), 3)],
        "job_to_account_p50_p99_s": [round(pct(rest, 0.5), 3), round(pct(rest, 0.99), 3)],
        "lag_p99_first_half_s": round(pct(lags("even"), 0.99), 3),
        "lag_p99_second_half_s": round(pct(lags("noisy"), 0.99), 3),
        "quiet_p99_even_s": round(even_p99, 3),
        "quiet_p99_with_noisy_s": round(noisy_p99, 3),
        "noisy_changes": len(lags("noisy", noisy=True)),
        "noisy_p99_s": round(pct(lags("noisy", noisy=True), 0.99), 3),
        "fairness_ratio": round(noisy_p99 / even_p99, 2) if even_p99 else None,
    }


def processes_report(procs: list[Any], window: tuple[float, float]) -> dict[str, Any]:
    """Each process's RSS and CPU over the driven window (from the first change to the settle).

    ``rss_mb_drive`` is the RSS at the window's start, its middle and its end; the growth of the
    second half shows whether memory is flat once every tenant is warm; ``cpu_share`` is the
    process's CPU seconds over the window's wall seconds (1.0 is one whole core).
    """
    report: dict[str, Any] = {}
    counter = itertools.count()
    start, end = window
    for proc in procs:
        inside = [s for s in proc.samples if start - 5 <= s[0] <= end + 5]
        if not inside:
            continue
        name = proc.role if proc.role != "worker" else f"worker{next(counter)}"
        rss = [s[1] for s in inside]
        half = len(rss) // 2
        span = max(inside[-1][0] - inside[0][0], 1e-9)
        report[name] = {
            "rss_mb_drive": [round(rss[0]), round(rss[half]), round(rss[-1])],
            "rss_mb_max": round(max(rss)),
            "rss_mb_second_half_growth": round(rss[-1] - rss[half], 1),
            "cpu_share": round((inside[-1][2] - inside[0][2]) / span, 2),
            "cpu_s_total": round(proc.samples[-1][2], 1),
            "rss_mb_every_5s": [round(s[1]) for s in inside],
        }
    return report
