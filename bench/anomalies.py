"""Drill the anomaly guard: normal invoice traffic with seeded anomalies, through the real guard.

    uv run python bench/anomalies.py                 # 40 clients, 1,200 invoices, seed 7
    uv run python bench/anomalies.py --clients 10 --invoices 200 --seed 3

Each client has its own typical amount (log-normal around 200-5,000) and currency; its invoices
vary around it (log-normal, sigma 0.35). Seeded among them: x100 and x1000 amounts, a far
amount (x12), a currency swap, a zero amount, and a burst of 60 deletes. Every planned write goes
through ``BaselineGuard`` on a fresh SQLite store, as the flows send it. Printed: held and
flagged counts for normal writes (the false alarms) and whether each seeded anomaly was held.
The sandboxes are not involved: the guard judges planned writes, not HTTP traffic.
"""

import argparse
import asyncio
import logging
import math
import random
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import structlog

from freshforce.assist.guard import BaselineGuard
from freshforce.engine.guard import Guarded, PlannedWrite
from freshforce.store.engine import create_engine
from freshforce.store.migrate import upgrade

CURRENCIES = ("USD", "CAD", "EUR")


def _normal(rng: random.Random, typical: float) -> Decimal:
    amount = typical * math.exp(rng.gauss(0, 0.35))
    return Decimal(f"{amount:.2f}")


def _seeded(
    rng: random.Random, clients: dict[str, tuple[float, str]]
) -> list[tuple[str, PlannedWrite]]:
    pick = sorted(clients)
    out = []
    for n, (what, factor) in enumerate(
        (("x100 amount", 100), ("x1000 amount", 1000), ("x12 amount", 12))
    ):
        client = rng.choice(pick)
        typical, currency = clients[client]
        amount = Decimal(f"{typical * factor:.2f}")
        out.append(
            (
                what,
                PlannedWrite(
                    "t", "invoices", f"seed{n}", client, {"amount": amount}, {"currency": currency}
                ),
            )
        )
    client = rng.choice(pick)
    typical, currency = clients[client]
    other = next(c for c in CURRENCIES if c != currency)
    out.append(
        (
            "currency swap",
            PlannedWrite(
                "t",
                "invoices",
                "seed-cur",
                client,
                {"amount": _normal(rng, typical)},
                {"currency": other},
            ),
        )
    )
    out.append(
        (
            "zero amount",
            PlannedWrite(
                "t", "invoices", "seed-zero", client, {"amount": Decimal(0)}, {"currency": currency}
            ),
        )
    )
    return out


async def drill(clients: int, invoices: int, seed: int) -> None:
    rng = random.Random(seed)
    people = {
        f"c{n}": (math.exp(rng.uniform(math.log(200), math.log(5000))), rng.choice(CURRENCIES))
        for n in range(clients)
    }
    seeded = _seeded(rng, people)
    at = sorted(rng.sample(range(invoices // 3, invoices), len(seeded)))  # after some history
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'drill.db'}"
        await upgrade(url)
        engine = create_engine(url)
        guard = BaselineGuard(engine)
        normal = {Guarded.PROCEED: 0, Guarded.FLAG: 0, Guarded.HOLD: 0}
        found: dict[str, Guarded] = {}
        alarms: list[str] = []
        start = time.perf_counter()
        for n in range(invoices):
            client = rng.choice(sorted(people))
            typical, currency = people[client]
            write = PlannedWrite(
                "t",
                "invoices",
                f"inv{n}",
                client,
                {"amount": _normal(rng, typical)},
                {"currency": currency},
            )
            verdict = await guard.check(write)
            normal[verdict.action] += 1
            if verdict.action is not Guarded.PROCEED:
                alarms.append(verdict.reasons[0])
            while at and at[0] == n:
                at.pop(0)
                what, odd = seeded.pop(0)
                found[what] = (await guard.check(odd)).action
        deletes = [
            (await guard.check(PlannedWrite("t", "clients", f"d{n}", "", delete=True))).action
            for n in range(60)
        ]
        seconds = time.perf_counter() - start
        await engine.dispose()
    total = sum(normal.values())
    print(f"{clients} clients, {total} normal invoices, seed {seed}, {seconds:.1f} s")
    print(
        f"normal writes held: {normal[Guarded.HOLD]} ({normal[Guarded.HOLD] / total:.2%}), "
        f"flagged: {normal[Guarded.FLAG]} ({normal[Guarded.FLAG] / total:.2%})"
    )
    for alarm in alarms[:5]:
        print(f"  e.g. {alarm}")
    print("| seeded anomaly | result |")
    print("|---|---|")
    for what, action in found.items():
        print(f"| {what} | {action} |")
    made, held = deletes.count(Guarded.PROCEED), deletes.count(Guarded.HOLD)
    print(f"| burst of 60 deletes | {made} made, {held} held |")


def main() -> None:
    # The guard logs each held write; the table says enough.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=40)
    parser.add_argument("--invoices", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(drill(args.clients, args.invoices, args.seed))


if __name__ == "__main__":
    main()
