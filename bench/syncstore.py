"""Benchmark the sync store: what one batch of 200 records costs the engine, both backends.

    uv run python bench/syncstore.py            # 20 batches of 200 on SQLite and PostgreSQL

Per batch, as a clients flow would: take the 200 records' match locks (one short transaction),
read their links, snapshots and open conflicts (one query each), then commit 200 new links with
a match key each, 200 snapshots, 200 fingerprints, 1,000 field writes and the lock releases in
one transaction. Prints p50/p95 per phase and records per second for the whole batch.
"""

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from freshforce.engine.fingerprint import fingerprint
from freshforce.store.conflicts import open_conflicts
from freshforce.store.engine import create_engine
from freshforce.store.fingerprints import Written, record_fingerprints
from freshforce.store.linking import NewLink, create_links
from freshforce.store.links import find_links
from freshforce.store.matchlocks import release_match_locks, take_match_locks
from freshforce.store.migrate import upgrade
from freshforce.store.scope import Scope
from freshforce.store.snapshots import Snapshot, load_snapshots, save_snapshots
from freshforce.store.writelog import FieldWrite, record_field_writes

POSTGRES_ADMIN_URL = os.environ.get(
    "FRESHFORCE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
SCOPE = Scope("bench", "clients")
FIELDS = ("Account.Name", "Account.Phone", "Contact.FirstName", "Contact.LastName", "Contact.Email")


async def _batch(engine: AsyncEngine, start: int, size: int) -> dict[str, float]:
    ids = [str(n) for n in range(start, start + size)]
    keys = [f"org:company {n}" for n in ids]
    t0 = time.perf_counter()
    async with engine.begin() as db:
        _check(await take_match_locks(db, SCOPE, keys, "bench"), "locks taken")
    t1 = time.perf_counter()
    async with engine.connect() as db:
        found = await find_links(db, SCOPE, freshbooks_ids=ids)
        await load_snapshots(db, [k.id for k in found])
        await open_conflicts(db, SCOPE, [k.id for k in found])
    t2 = time.perf_counter()
    async with engine.begin() as db:
        await _commit(db, ids, keys)
    t3 = time.perf_counter()
    return {"lock": t1 - t0, "read": t2 - t1, "commit": t3 - t2, "total": t3 - t0}


async def _commit(db: AsyncConnection, ids: list[str], keys: list[str]) -> None:
    values = {fb_id: {name: f"{name} {fb_id}" for name in FIELDS} for fb_id in ids}
    new = [NewLink(i, None, keys=frozenset({k})) for i, k in zip(ids, keys, strict=True)]
    made = [k for k in await create_links(db, SCOPE, new) if k is not None]
    _check(len(made) == len(ids), "every link created")
    await save_snapshots(db, {k.id: Snapshot(values[str(k.freshbooks_id)]) for k in made})
    written = [Written("freshbooks", "client", i, fingerprint(values[i])) for i in ids]
    await record_fingerprints(db, SCOPE.tenant, written)
    writes = [
        FieldWrite("freshbooks", "client", i, f, None, v) for i in ids for f, v in values[i].items()
    ]
    await record_field_writes(db, SCOPE, writes)
    _check(await release_match_locks(db, SCOPE, keys, "bench"), "locks released")


def _check(ok: bool, what: str) -> None:
    if not ok:
        msg = f"benchmark broken: expected {what}"
        raise RuntimeError(msg)


async def _run(url: str, batches: int, size: int) -> dict[str, list[float]]:
    await upgrade(url)
    engine = create_engine(url)
    samples: dict[str, list[float]] = {}
    try:
        for n in range(batches):
            for phase, seconds in (await _batch(engine, n * size, size)).items():
                samples.setdefault(phase, []).append(seconds)
    finally:
        await engine.dispose()
    return samples


def _postgres() -> tuple[str, sa.Engine, str]:
    name = f"ff_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(
        POSTGRES_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", admin, name


def _row(backend: str, size: int, samples: dict[str, list[float]]) -> str:
    def ms(phase: str, q: int) -> str:
        return f"{statistics.quantiles(samples[phase], n=20)[q] * 1000:7.1f}"

    rate = size / statistics.median(samples["total"])
    cells = [f"{ms(p, 9)} / {ms(p, 18)}" for p in ("lock", "read", "commit", "total")]
    return f"| {backend:10} | " + " | ".join(cells) + f" | {rate:8.0f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--size", type=int, default=200)
    args = parser.parse_args()
    phases = ("lock", "read", "commit", "total")
    print("| backend | " + " | ".join(f"{p} p50/p95 ms" for p in phases) + " | records/s |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        print(_row("SQLite", args.size, asyncio.run(_run(url, args.batches, args.size))))
    url, admin, name = _postgres()
    try:
        print(_row("PostgreSQL", args.size, asyncio.run(_run(url, args.batches, args.size))))
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


if __name__ == "__main__":
    main()
