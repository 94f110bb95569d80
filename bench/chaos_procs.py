"""The chaos drill with freshforce in its own processes: workers, a listener, or `run`.

    uv run python bench/chaos.py --backend postgresql --seed 3 --changes 400
    uv run python bench/chaos.py --backend sqlite-run --changes 400   # one `freshforce run`

Both sandboxes run in the drill's process, served over real sockets (FreshBooks and Salesforce
REST over HTTP, Salesforce Pub/Sub over gRPC). ``postgresql``: a fresh database next to
``CHAOS_POSTGRES_URL`` (dropped after), ``--workers`` `freshforce worker` processes and one
`freshforce listen` process (web app taking the webhooks, pollers every second, CDC). Every
``--kill-every`` seconds (a random time within) one worker process is SIGKILLed and another
started; once, mid-run, every backend of the database is cut with ``pg_terminate_backend``;
``--listener-kills`` times the listener is SIGKILLed and restarted on its port (its stream leases
expire and the new process resumes each stream from its stored cursor). ``sqlite-run``: one
`freshforce run` process on a SQLite file, SIGKILLed and restarted the same way. Salesforce's
change stream drops (Pub/Sub unavailable for a moment) every few seconds and sends gap events.
The workload, the faults on freshforce's requests and the checks are bench/chaos.py's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from chaos import Person, check, faults, person, sf_query, workload
from freshforce.embedded import SF_CONNECTION, Embedded, open_embedded
from freshforce.engine import JobStatus
from freshforce.engine.queue import JobQueue
from freshforce.flows.clients_bulk import reconcile
from freshforce.mapping import load_maps, write_defaults
from freshforce.sandbox.router import HostRouter
from freshforce.sandbox.salesforce.pubsub import attach_pubsub
from freshforce.store.schema import connections, cursors, leases
from scale import serve, worker_env

ADMIN_URL = os.environ.get(
    "CHAOS_POSTGRES_URL",
    os.environ.get("FRESHFORCE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
)
FRESHFORCE = str(Path(sys.executable).parent / "freshforce")
T = TypeVar("T")


@dataclass
class Options:
    """The drill's arguments (bench/chaos.py's flags)."""

    seed: int
    changes: int
    rate: float
    backend: str = "postgresql"  # or "sqlite-run"
    workers: int = 2
    kill_every: float = 4.0  # a worker (or `run`) SIGKILLed at a random time within this
    db_cuts: int = 1
    listener_kills: int = 0
    listener_kill_at: float = 0.3  # of the changes; the next at twice that, and so on
    cdc_faults: bool = True
    keep: Path | None = None


@dataclass
class Proc:
    """One freshforce process and its log file."""

    role: str  # worker, listen, run
    popen: subprocess.Popen[bytes]
    log: IO[bytes]
    path: Path


@dataclass
class Counts:
    """The faults done, for the report."""

    worker_kills: int = 0
    listener_kills: int = 0
    listener_kill_at: float = 0.3  # of the changes; the next at twice that, and so on
    db_cuts: int = 0
    backends_cut: int = 0
    stream_drops: int = 0
    gap_events: int = 0
    takeover_seconds: list[float] = field(default_factory=list)


def create_database() -> tuple[str, sa.Engine]:
    name = f"ff_chaos_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(
        ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", admin


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def retrying(work: Callable[[], Awaitable[T]], tries: int = 5) -> T:
    """Run the drill's own store call, again after a cut connection (it is cut too)."""
    for attempt in range(tries):
        try:
            return await work()
        except (DBAPIError, OSError):
            if attempt == tries - 1:
                raise
            await asyncio.sleep(0.5)
    raise AssertionError("unreachable")


class Processes:
    """freshforce's processes, the faults done to them, and the wait for quiet."""

    def __init__(self, world: Embedded, env: dict[str, str], opts: Options, logs: Path) -> None:
        self.world, self.env, self.opts, self.logs = world, env, opts, logs
        self.rng = random.Random(opts.seed * 7919)
        self.procs: list[Proc] = []
        self.counts = Counts()
        self.database = env["FRESHFORCE_DATABASE_URL"]
        self.port = int(env["FRESHFORCE_WEB_PORT"])
        self._n = 0
        self._killing: asyncio.Task[None] | None = None

    def queue(self) -> JobQueue:
        return self.world.runtime.queue()

    def restart(self) -> None:
        """Kill a worker at the workload's first call, so a short run has a kill too."""
        if self._killing is None and not self.counts.worker_kills:
            self._killing = asyncio.create_task(self._kill_one(at_work=0.0))

    async def killer(self) -> None:
        """SIGKILL a worker (or `run`) at a random 0.5-1 ``kill_every`` after the last."""
        while True:
            await asyncio.sleep(self.rng.uniform(0.5, 1.0) * self.opts.kill_every)
            if self._killing is None:
                self._killing = asyncio.create_task(self._kill_one())

    async def _kill_one(self, at_work: float | None = None) -> None:
        role = self.role
        # Only a process at work for a while (on a loaded machine one takes seconds to start).
        at_work = self.opts.kill_every / 2 if at_work is None else at_work
        victims = [p for p in self.live(role) if self._mark(p) in p.path.read_bytes()]
        victims = [p for p in victims if self._up(p) >= at_work]
        if victims:
            await self.kill(self.rng.choice(victims))
            self.counts.worker_kills += 1
            await self.start(role, wait=False)
        self._killing = None

    @property
    def role(self) -> str:
        return "worker" if self.opts.backend == "postgresql" else "run"

    async def settled(self) -> None:
        """Wait for a kill under way, then for every live process to have started."""
        if self._killing is not None:
            await self._killing
        for proc in self.live(self.role) + self.live("listen"):
            await self._started(proc)

    def _command(self, role: str) -> list[str]:
        if role == "worker":
            return [
                FRESHFORCE, "worker", "--concurrency", "4", "--batch-size", "20",
                "--poll-interval", "0.05", "--lease-seconds", "3", "--max-attempts", "100",
                "--shutdown-timeout", "0",
            ]  # fmt: skip
        return [FRESHFORCE, role, "--poll-seconds", "1", "--cdc"]

    async def start(self, role: str, *, wait: bool = True) -> Proc:
        self._n += 1
        path = self.logs / f"{self._n:03d}-{role}.log"
        log = path.open("w+b")
        popen = subprocess.Popen(  # noqa: ASYNC220, S603 - the drill's own child
            self._command(role), env=self.env, stdout=subprocess.DEVNULL, stderr=log
        )
        proc = Proc(role, popen, log, path)
        self.procs.append(proc)
        if wait:
            await self._started(proc)
        return proc

    def _up(self, proc: Proc) -> float:
        """Return how long ``proc`` has been at work (0 while it starts)."""
        text = proc.path.read_bytes()
        at = text.find(self._mark(proc))
        if at < 0:
            return 0.0
        line = text[text.rfind(b"\n", 0, at) + 1 :]
        try:  # the log line starts with its ISO time
            when = datetime.fromisoformat(line[:26].decode())
        except ValueError:
            return 0.0
        return (datetime.now(UTC).replace(tzinfo=None) - when).total_seconds()

    @staticmethod
    def _mark(proc: Proc) -> bytes:
        return b"worker_started" if proc.role == "worker" else b"service_started"

    async def _started(self, proc: Proc) -> None:
        mark = self._mark(proc)
        end = time.monotonic() + 300  # minutes on a loaded machine
        while time.monotonic() < end:
            if proc.popen.poll() is not None:
                raise SystemExit(f"{proc.role} exited: {proc.path.read_bytes().decode()[-3000:]}")
            if mark in proc.path.read_bytes():
                return
            await asyncio.sleep(0.1)
        raise SystemExit(f"{proc.role} did not start in 300 s: {proc.path.read_text()[-3000:]}")

    def live(self, role: str) -> list[Proc]:
        return [p for p in self.procs if p.role == role and p.popen.poll() is None]

    async def kill(self, proc: Proc) -> None:
        proc.popen.send_signal(signal.SIGKILL)
        await asyncio.to_thread(proc.popen.wait)

    async def start_all(self) -> None:
        if self.opts.backend == "postgresql":
            await self.start("listen")
            for _ in range(self.opts.workers):
                await self.start("worker")
        else:
            await self.start("run")

    async def kill_listener(self) -> None:
        """SIGKILL the listener and start another on its port: it takes the streams over."""
        for proc in self.live("listen"):
            await self.kill(proc)
        self.counts.listener_kills += 1
        await self.start("listen")

    async def cut_database(self) -> None:
        """Terminate every backend of freshforce's database (the processes' and the drill's)."""
        name = self.database.rsplit("/", 1)[1]
        admin = sa.create_engine(ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"))
        sql = (
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %(db)s AND pid <> pg_backend_pid()) AS cut"
        )

        def cut() -> int:
            with admin.connect() as conn:
                return int(conn.exec_driver_sql(sql, {"db": name}).scalar_one())

        self.counts.backends_cut += await asyncio.to_thread(cut)
        self.counts.db_cuts += 1
        admin.dispose()

    async def stream_faults(self, accounts: Callable[[], list[str]]) -> None:
        """Drop the CDC stream for a moment, or send a gap event, every few seconds."""
        admin = self.world.sf_admin
        wait = self.rng.uniform(0.3, 1.0)  # the first soon, so a short run has one too
        while True:
            await asyncio.sleep(wait)
            wait = self.rng.uniform(1.5, 4.0)
            if self.rng.random() < 0.5:
                await admin.put("/_sandbox/pubsub", json={"unavailable": True})
                await asyncio.sleep(self.rng.uniform(0.2, 1.5))
                await admin.put("/_sandbox/pubsub", json={"unavailable": False})
                self.counts.stream_drops += 1
            elif known := accounts():
                body = {"entity": "Account", "change_type": "GAP_UPDATE",
                        "record_ids": [self.rng.choice(known)]}  # fmt: skip
                (await admin.post("/_sandbox/pubsub/gaps", json=body)).raise_for_status()
                self.counts.gap_events += 1

    async def streams_held(self, within: float) -> float:
        """Wait until a live process holds every stream with a cursor; return the seconds waited.

        A killed process's leases run out only after their TTL (``stream_lease_seconds``, 60 s by
        default); until then no other process reads those streams.
        """
        started = time.monotonic()
        name = cursors.c.connection_id + "/" + cursors.c.stream  # SQL's ||
        query = sa.select(name.label("name"), leases.c.holder, leases.c.expires_at).select_from(
            cursors.outerjoin(leases, leases.c.name == name)
        )
        missing: list[str] = []
        while time.monotonic() - started < within:

            async def rows() -> list[Any]:
                async with self.world.runtime.engine.connect() as db:
                    return list(await db.execute(query))

            pids = {str(p.popen.pid) for p in self.procs if p.popen.poll() is None}
            now = datetime.now(UTC)
            missing = [
                r.name
                for r in await retrying(rows)
                if r.holder is None or r.holder.split(":")[1] not in pids or r.expires_at < now
            ]
            if not missing:
                return time.monotonic() - started
            await asyncio.sleep(0.5)
        raise TimeoutError(f"no live process took {missing} in {within} s")

    async def quiet(self, within: float) -> None:
        """Wait until no job waits or runs (a dead process's jobs come back when leases end)."""
        end = time.monotonic() + within
        counts: dict[Any, int] = {}
        while time.monotonic() < end:
            counts = await retrying(self.queue().counts)
            if not counts.get(JobStatus.PENDING) and not counts.get(JobStatus.RUNNING):
                return
            for proc in self.live("worker") + self.live("run"):
                if proc.popen.poll() is not None:  # pragma: no cover - reported, not hidden
                    raise SystemExit(f"{proc.role} exited: {proc.path}")
            await asyncio.sleep(0.2)
        raise TimeoutError(f"the queue did not settle in {within} s: {counts}")

    async def stop(self) -> None:
        for proc in self.procs:
            if proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                await asyncio.to_thread(proc.popen.wait, 30)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
            proc.log.close()


async def drill(opts: Options) -> dict[str, Any]:
    rng = random.Random(opts.seed)
    admin: sa.Engine | None = None
    with tempfile.TemporaryDirectory() as tmp:
        if opts.backend == "postgresql":
            database_url, admin = create_database()
        else:
            database_url = f"sqlite+aiosqlite:///{tmp}/chaos.db"
        try:
            return await _drill(opts, rng, Path(tmp), database_url)
        finally:
            if admin is not None:
                name = database_url.rsplit("/", 1)[1]
                if opts.keep is None or not (opts.keep / "KEPT").exists():
                    with admin.connect() as conn:
                        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                admin.dispose()


async def _drill(  # noqa: C901, PLR0915 - one drill, step by step
    opts: Options, rng: random.Random, tmp: Path, database_url: str
) -> dict[str, Any]:
    config = tmp / "freshforce"
    write_defaults(config)
    world = await open_embedded(database_url, config, seed=opts.seed)
    maps = load_maps(config, profile="dev")
    fb_server, fb_task, fb_url = await serve(world.freshbooks.app)
    sf_server, sf_task, sf_url = await serve(world.salesforce.app)
    pubsub = attach_pubsub(world.salesforce, clock=world.sandboxes.clock.now, seed=opts.seed)
    pubsub_task = asyncio.create_task(pubsub.serve())
    await pubsub.wait_started()
    pair = await world.runtime.pair("default")
    router = world.runtime.transport
    if not isinstance(router, HostRouter):
        raise TypeError(router)
    router.routes["127.0.0.1"] = world.sf_transport  # the drill's own calls stay on ASGI
    async with world.runtime.engine.begin() as db:  # the processes reach Salesforce's socket
        await db.execute(
            connections.update()
            .where(connections.c.id == SF_CONNECTION)
            .values(instance_url=sf_url)
        )
    port = free_port()
    env = {
        **worker_env(world, fb_url, sf_url, database_url),
        "FRESHFORCE_SALESFORCE_PUBSUB_HOST": pubsub.target,
        "FRESHFORCE_SALESFORCE_PUBSUB_TLS": "false",
        "FRESHFORCE_WEB_HOST": "127.0.0.1",
        "FRESHFORCE_WEB_PORT": str(port),
        "FRESHFORCE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "FRESHFORCE_PROFILE": "dev",
        # `run` takes these from settings; `worker` gets the same as flags
        "FRESHFORCE_JOB_LEASE_SECONDS": "3",
        "FRESHFORCE_JOB_MAX_ATTEMPTS": "100",
        "FRESHFORCE_WORKER_POLL_INTERVAL": "0.05",
        "FRESHFORCE_WORKER_SHUTDOWN_TIMEOUT": "0",
    }
    logs = tmp / "logs"
    logs.mkdir()
    procs = Processes(world, env, opts, logs)
    who = await person(world)
    await procs.start_all()
    await _verified(world)
    await faults(world, opts.rate, on=True)
    accounts = lambda: sorted(who.cities)  # noqa: E731 - the Accounts made so far
    background = [asyncio.create_task(procs.killer())]
    listeners: list[asyncio.Task[None]] = []
    if opts.cdc_faults:
        background.append(asyncio.create_task(procs.stream_faults(accounts)))
    cuts = {int(opts.changes * (k + 1) / (opts.db_cuts + 1)) for k in range(opts.db_cuts)}
    if opts.backend != "postgresql":
        cuts = set()
    kills = {  # the first at listener_kill_at of the run (the cut is at half way)
        int(opts.changes * opts.listener_kill_at * (k + 1)) for k in range(opts.listener_kills)
    }
    if opts.backend != "postgresql":
        kills = set()

    async def on_change(i: int) -> None:
        if i in cuts:
            await procs.cut_database()
        if i in kills:
            listeners.append(asyncio.create_task(procs.kill_listener()))

    started = time.monotonic()
    try:
        await workload(who, rng, opts.changes, procs, on_change=on_change)  # type: ignore[arg-type]
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await procs.settled()
        await asyncio.gather(*listeners)
        await world.sf_admin.put("/_sandbox/pubsub", json={"unavailable": False})
        await faults(world, opts.rate, on=False)
        faults_over = time.monotonic()
        takeover = await procs.streams_held(300)
        await asyncio.sleep(2.5)  # two poll ticks after the streams are read again
        await procs.quiet(900)
        await _pay_the_rest(world, who)
        await asyncio.sleep(2.5)  # two poll ticks: what the webhooks lost, the pollers find
        await procs.quiet(900)
        drift = await retrying(
            lambda: reconcile(
                maps["clients"], pair, world.runtime.engine, tenant="default", queue=procs.queue()
            )
        )
        await procs.quiet(900)
        after = await reconcile(maps["clients"], pair, world.runtime.engine, tenant="default")
        converge = time.monotonic() - started
        seen: list[str] = []
        wrong = await check(world, who, seen)
        wrong.update({f"drift: {k}": v for k, v in after.counts.items()})
        dead = (await procs.queue().counts()).get(JobStatus.DEAD, 0)
        if dead:
            wrong["dead jobs"] = dead
    finally:
        await procs.stop()
        if opts.keep is not None:
            await _keep(world, opts, logs, database_url, keep_db=True)
    if opts.keep is not None and not wrong:
        (opts.keep / "KEPT").unlink(missing_ok=True)
    report = {
        "seed": opts.seed,
        "backend": opts.backend,
        "changes": opts.changes,
        "fault_rate": opts.rate,
        "processes": {"workers": opts.workers, "listeners": 1}
        if opts.backend == "postgresql"
        else {"run": 1},
        "worker_kills": procs.counts.worker_kills,
        "listener_kills": procs.counts.listener_kills,
        "db_cuts": procs.counts.db_cuts,
        "backends_cut": procs.counts.backends_cut,
        "stream_drops": procs.counts.stream_drops,
        "gap_events": procs.counts.gap_events,
        "clients_edited": len(who.phones),
        "accounts_edited": len(who.cities),
        "won_deals": len(who.deals),
        "repaired_by_reconcile": dict(drift.counts),
        "seconds_of_faults": round(faults_over - started, 1),
        "seconds_until_streams_held": round(takeover, 1),
        "seconds_to_converge": round(converge, 1),
        "seconds_after_faults": round(converge - (faults_over - started), 1),
        "wrong": dict(wrong),
        "drift_left": after.samples,
        "wrong_records": seen,
    }
    for server in (fb_server, sf_server):
        server.should_exit = True
    pubsub.request_stop()
    await asyncio.gather(fb_task, sf_task, pubsub_task, return_exceptions=True)
    await who.fb.aclose()
    await who.sf.aclose()
    await world.aclose()
    return report


async def _verified(world: Embedded) -> None:
    """Wait until the listener registered its callbacks and FreshBooks verified them."""
    fb = (await world.runtime.pair("default")).freshbooks
    end = time.monotonic() + 60
    while time.monotonic() < end:
        found = await fb.list_callbacks()
        if found and all(c.verified for c in found):
            return
        await asyncio.sleep(0.1)
    raise SystemExit("the listener's webhooks were not verified in 60 s")


async def _pay_the_rest(world: Embedded, who: Person) -> None:
    for deal in sorted(set(who.deals) - who.paid):
        soql = f"SELECT FreshBooks_Invoice_Id__c FROM Opportunity WHERE Id = '{deal}'"  # noqa: S608
        [row] = await sf_query(world, soql)
        if row["FreshBooks_Invoice_Id__c"]:
            await who.pay(deal, int(row["FreshBooks_Invoice_Id__c"]))


async def _keep(
    world: Embedded, opts: Options, logs: Path, database_url: str, *, keep_db: bool
) -> None:
    """Keep the processes' logs, the request logs and the store (its file, or the database)."""
    keep = opts.keep or Path("chaos-kept")
    keep.mkdir(parents=True, exist_ok=True)
    for name, admin in (("freshbooks", world.fb_admin), ("salesforce", world.sf_admin)):
        (keep / f"{name}-requests.json").write_text((await admin.get("/_sandbox/requests")).text)
    shutil.copytree(logs, keep / "logs", dirs_exist_ok=True)
    if database_url.startswith("sqlite"):
        with contextlib.suppress(OSError):
            shutil.copy(database_url.split("///", 1)[1], keep / "chaos.db")
    elif keep_db:
        (keep / "KEPT").write_text(f"{database_url}\n")  # drop it yourself when done
