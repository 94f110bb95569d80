"""Scale-out: 1, 2 and 4 `freshforce worker` processes on PostgreSQL against slow sandboxes.

    uv run python bench/scale.py                                  # 400 jobs, 50 ms, 1 2 4
    uv run python bench/scale.py --jobs 20 --workers 1 2 --json   # the smoke test's tiny run

Both sandboxes run in this process, served over real sockets, every request delayed by
``--latency-ms``. ``--records`` clients are created in FreshBooks and linked to Accounts (a first
sync). For each worker count, every client's phone is edited, one clients job per client is
enqueued, and that many `freshforce worker` processes (``--concurrency`` jobs at once, one job a
claim, so every job makes its own remote calls) run until the queue is empty; throughput is the
jobs over the time from the enqueue to the last ack. Each round checks that every Account shows
its client's new phone.
"""

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
import uvicorn

from chaos import quiet
from freshforce.connectors.salesforce.governor import Priority
from freshforce.embedded import FB_ACCOUNT, SF_CONNECTION, Embedded, open_embedded
from freshforce.engine import JobQueue, JobRequest, JobStatus
from freshforce.flows.clients_bulk import apply_initial, plan_initial
from freshforce.mapping import load_maps, write_defaults
from freshforce.store.schema import connections

ADMIN_URL = os.environ.get("SCALE_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
CLIENTS = f"/accounting/account/{FB_ACCOUNT}/users/clients"


def create_database() -> tuple[str, sa.Engine]:
    name = f"ff_scale_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(
        ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", admin


async def serve(app: Any) -> tuple[uvicorn.Server, asyncio.Task[None], str]:  # noqa: ANN401
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag
        await asyncio.sleep(0.01)
    return server, task, f"http://127.0.0.1:{sock.getsockname()[1]}"


async def link(world: Embedded, records: int) -> list[int]:
    ids = []
    for i in range(records):
        body = {"client": {"organization": f"Scale Co {i:05d}", "email": f"s{i}@x.example"}}
        made = (await world.fb_user.post(CLIENTS, json=body)).json()
        ids.append(int(made["response"]["result"]["client"]["id"]))
    maps = load_maps(world.runtime.settings.config_dir, profile="dev")
    pair = await world.runtime.pair("default")
    plan = await plan_initial(maps["clients"], pair, world.runtime.engine, tenant="default")
    await apply_initial(plan, world.runtime.engine)
    return ids


def worker_env(world: Embedded, fb_url: str, sf_url: str, database_url: str) -> dict[str, str]:
    settings = world.runtime.settings
    return {
        **os.environ,
        "FRESHFORCE_DATABASE_URL": database_url,
        "FRESHFORCE_ENCRYPTION_KEYS": ",".join(
            k.get_secret_value() for k in settings.encryption_keys
        ),
        "FRESHFORCE_CONFIG_DIR": str(settings.config_dir),
        "FRESHFORCE_FRESHBOOKS_API_URL": fb_url,
        "FRESHFORCE_FRESHBOOKS_CLIENT_ID": settings.freshbooks_client_id,
        "FRESHFORCE_FRESHBOOKS_CLIENT_SECRET": settings.freshbooks_client_secret.get_secret_value(),
        "FRESHFORCE_SALESFORCE_LOGIN_URL": sf_url,
        "FRESHFORCE_SALESFORCE_CLIENT_ID": settings.salesforce_client_id,
        "FRESHFORCE_SALESFORCE_CLIENT_SECRET": settings.salesforce_client_secret.get_secret_value(),
        "FRESHFORCE_LOG_LEVEL": "info",  # "worker_started" says a worker polls
    }


async def started_all(procs: list[subprocess.Popen[bytes]], logs: list[IO[bytes]]) -> None:
    """Wait until every worker process has logged ``worker_started`` (it polls the queue)."""
    while True:
        for proc, log in zip(procs, logs, strict=True):
            if proc.poll() is not None:
                log.seek(0)
                raise SystemExit(f"a worker exited: {log.read().decode()[-2000:]}")
        seen = []
        for log in logs:
            log.seek(0)
            seen.append(b"worker_started" in log.read())
        if all(seen):
            return
        await asyncio.sleep(0.1)


async def round_(  # noqa: PLR0917 - one round's parts
    world: Embedded, ids: list[int], env: dict[str, str], workers: int, concurrency: int, tag: str
) -> dict[str, Any]:
    for client_id in ids:
        body = {"client": {"bus_phone": f"555-{tag}-{client_id}"}}
        (await world.fb_user.put(f"{CLIENTS}/{client_id}", json=body)).raise_for_status()
    command = [
        str(Path(sys.executable).parent / "freshforce"), "worker",
        "--concurrency", str(concurrency), "--batch-size", "1",
        "--poll-interval", "0.05", "--shutdown-timeout", "0",
    ]  # fmt: skip
    logs = [tempfile.TemporaryFile() for _ in range(workers)]  # noqa: SIM115 - closed below
    procs = [
        subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)  # noqa: ASYNC220, S603
        for log in logs
    ]
    try:
        await started_all(procs, logs)
        queue = JobQueue(world.runtime.engine)
        started = time.monotonic()
        async with world.runtime.engine.begin() as db:
            await queue.enqueue_many(
                db, [JobRequest("clients", f"freshbooks/client/{i}", tenant="default") for i in ids]
            )
        while True:
            counts = await queue.counts()
            if not counts.get(JobStatus.PENDING) and not counts.get(JobStatus.RUNNING):
                break
            if any(p.poll() is not None for p in procs):
                logs[0].seek(0)
                raise SystemExit(f"a worker exited: {logs[0].read().decode()[-2000:]}")
            await asyncio.sleep(0.05)
        elapsed = time.monotonic() - started
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=60)
        if os.environ.get("SCALE_SHOW_LOGS"):
            for log in logs:
                log.seek(0)
                sys.stderr.write(log.read().decode())
        for log in logs:
            log.close()
    sf = (await world.runtime.pair("default")).salesforce
    rows = await sf.query(
        "SELECT Phone, FreshBooks_Client_Id__c FROM Account", priority=Priority.BACKFILL
    )
    right = sum(1 for r in rows if r["Phone"] == f"555-{tag}-{r['FreshBooks_Client_Id__c']}")
    return {
        "workers": workers,
        "jobs": len(ids),
        "seconds": round(elapsed, 2),
        "jobs_per_second": round(len(ids) / elapsed, 1),
        "done": dict(counts),
        "accounts_right": right,
    }


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    database_url, admin = create_database()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "freshforce"
            write_defaults(config)
            world = await open_embedded(database_url, config)
            fb_server, fb_task, fb_url = await serve(world.freshbooks.app)
            sf_server, sf_task, sf_url = await serve(world.salesforce.app)
            ids = await link(world, args.records)  # in process: its clients stay on ASGI
            # the worker processes reach Salesforce over the socket
            async with world.runtime.engine.begin() as db:
                await db.execute(
                    connections.update()
                    .where(connections.c.id == SF_CONNECTION)
                    .values(instance_url=sf_url)
                )
            for admin_client in (world.fb_admin, world.sf_admin):
                rule = {"kind": "latency", "latency_ms": args.latency_ms}
                (await admin_client.post("/_sandbox/faults", json=rule)).raise_for_status()
            env = worker_env(world, fb_url, sf_url, database_url)
            rounds = []
            for n, workers in enumerate(args.workers):
                rounds.append(
                    await round_(world, ids[: args.jobs], env, workers, args.concurrency, f"{n}")
                )
            for server in (fb_server, sf_server):
                server.should_exit = True
            await asyncio.gather(fb_task, sf_task)
            await world.aclose()
    finally:
        with admin.connect() as conn:
            name = database_url.rsplit("/", 1)[1]
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
    base = rounds[0]["jobs_per_second"]
    for row in rounds:
        row["speedup"] = round(row["jobs_per_second"] / base, 2)
    return {
        "latency_ms": args.latency_ms,
        "concurrency": args.concurrency,
        "cpus": os.cpu_count(),
        "rounds": rounds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=400)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    args.records = args.jobs
    quiet()
    report = asyncio.run(bench(args))
    if args.json:
        print(json.dumps(report))
    else:
        print(f"latency {report['latency_ms']} ms, concurrency {report['concurrency']} a worker, "
              f"{report['cpus']} CPUs")  # fmt: skip
        print(
            f"{'workers':>7} {'jobs':>6} {'seconds':>8} {'jobs/s':>8} {'speedup':>8} {'right':>6}"
        )
        for r in report["rounds"]:
            print(f"{r['workers']:>7} {r['jobs']:>6} {r['seconds']:>8} {r['jobs_per_second']:>8} "
                  f"{r['speedup']:>8} {r['accounts_right']:>6}")  # fmt: skip
    wrong = [r for r in report["rounds"] if r["accounts_right"] != r["jobs"]]
    raise SystemExit(1 if wrong else 0)


if __name__ == "__main__":
    main()
