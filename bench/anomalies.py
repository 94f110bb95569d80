"""Drill the anomaly guard: normal invoice traffic with seeded anomalies, through the real guard.

    uv run python bench/anomalies.py                 # 40 clients, 1,200 invoices, seed 7
    uv run python bench/anomalies.py --clients 10 --invoices 200 --seed 3 --weeks 0

Each client has its own typical amount (log-normal around 200-5,000) and currency; its invoices
vary around it (log-normal, sigma 0.35). Seeded among them: x100 and x1000 amounts, a far
amount (x12), a currency swap, a zero amount, a duplicate invoice (the client's invoice of the
same amount that day, found by ``assist/rules.py`` as the invoices flow finds it), and a burst of
500 Account deletes (the delete breaker, and its alert). Every planned write goes through
``BaselineGuard`` on a fresh SQLite store, as the flows send it. Printed: held and flagged counts
for normal writes (the false alarms) and whether each seeded anomaly was held.

Then the traffic rules (``--weeks``, default 3 weeks of history and one drilled week): FreshBooks
change events on a simulated clock (a webhook per change, Poisson, 40 an hour by day and 8 by
night; the poller finding each change within 5 minutes), a 30-minute webhook outage on the
drilled week's Wednesday at 14:00 (the poller still finds the changes); the ``volume`` and
``webhook_silence`` alert rules evaluated every 10 minutes of the drilled week. Printed: the
alerts outside the outage (false alarms) and how long after the outage began it was alerted.
The sandboxes are not involved: the guard judges planned writes, not HTTP traffic.
"""

import argparse
import asyncio
import logging
import math
import random
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
import structlog

from freshforce.assist.guard import BaselineGuard
from freshforce.assist.rules import invoice_findings
from freshforce.assist.traffic import traffic_findings
from freshforce.connectors.freshbooks.models import Invoice, Money
from freshforce.engine.guard import Guarded, PlannedWrite
from freshforce.store.alerts import list_alerts
from freshforce.store.engine import create_engine
from freshforce.store.migrate import upgrade
from freshforce.store.schema import events

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
    day = date(2026, 12, 2)
    amount = _normal(rng, typical)
    earlier = Invoice(
        id=1, updated=None, vis_state=0, raw={"po_number": "006A"}, invoice_number="0042",
        customerid=1, create_date=day, currency_code=currency, amount=Money(amount, currency),
    )  # fmt: skip
    body = {
        "currency_code": currency, "create_date": day.isoformat(),
        "lines": [{"qty": "1", "unit_cost": {"amount": str(amount), "code": currency}}],
    }  # fmt: skip
    twin = invoice_findings(body, amount, [earlier], reference="006B", ledger_knows=False)
    out.append(
        (
            "duplicate invoice (same client, amount, day)",
            PlannedWrite(
                "t", "invoices", "seed-dup", client, {"amount": amount}, {"currency": currency},
                findings=tuple(twin),
            ),
        )
    )  # fmt: skip
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
            for n in range(500)
        ]
        async with engine.connect() as db:
            alerts = [a.kind for a in await list_alerts(db)]
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
    print(f"| burst of 500 Account deletes | {made} made, {held} held, alerts: {alerts} |")


def _changes(rng: random.Random, start: datetime, end: datetime) -> list[datetime]:
    """Change times on a Poisson clock: 40 an hour from 08:00 to 18:00, 8 an hour otherwise."""
    out, at = [], start
    while True:
        rate = 40.0 if 8 <= at.hour < 18 else 8.0
        at += timedelta(hours=rng.expovariate(rate))
        if at >= end:
            return out
        out.append(at)


async def traffic(weeks: int, seed: int) -> None:
    """Drill the volume and webhook-silence rules on a simulated clock (see the module)."""
    rng = random.Random(seed)
    first = datetime(2026, 11, 2, tzinfo=UTC) - timedelta(weeks=weeks)  # a Monday
    drilled = first + timedelta(weeks=weeks)
    end = drilled + timedelta(weeks=1)
    outage = (
        drilled + timedelta(days=2, hours=14),
        drilled + timedelta(days=2, hours=14, minutes=30),
    )
    rows = []
    for n, at in enumerate(_changes(rng, first, end)):
        base = {"system": "freshbooks", "object": "client", "record_id": str(n), "payload": {}}
        if not outage[0] <= at < outage[1]:
            rows.append({**base, "source": "webhook", "received_at": at})
        rows.append(
            {**base, "source": "poll", "received_at": at + timedelta(minutes=rng.uniform(0, 5))}
        )
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'traffic.db'}"
        await upgrade(url)
        engine = create_engine(url)
        async with engine.begin() as db:
            await db.execute(sa.insert(events), rows)
        false: list[str] = []
        caught: dict[str, timedelta] = {}
        steps = 0
        start = time.perf_counter()
        now = drilled + timedelta(minutes=10)
        async with engine.connect() as db:
            while now <= end:
                steps += 1
                for kind in ("volume", "webhook_silence"):
                    factor = 3.0 if kind == "volume" else 10.0  # the default rules
                    for found in await traffic_findings(db, kind, now, factor=factor):
                        if outage[0] <= now <= outage[1] + timedelta(hours=1):
                            caught.setdefault(" ".join(found.split(" ")[:3]), now - outage[0])
                        else:
                            false.append(f"{now:%a %H:%M} {found}")
                now += timedelta(minutes=10)
        seconds = time.perf_counter() - start
        await engine.dispose()
    print(
        f"\n{len(rows)} change events over {weeks} weeks + 1; {steps} evaluations, {seconds:.1f} s"
    )
    print("| traffic | result |")
    print("|---|---|")
    for what, after in caught.items():
        print(
            f"| 30-minute webhook outage: {what} ... | alerted "
            f"{after.total_seconds() / 60:.0f} min after it began |"
        )
    print(f"| false alarms over the drilled week | {len(false)} of {steps} evaluations |")
    for alarm in false[:5]:
        print(f"  e.g. {alarm}")


def main() -> None:
    # The guard logs each held write; the table says enough.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=40)
    parser.add_argument("--invoices", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--weeks", type=int, default=3, help="weeks of traffic history; 0: skip")
    args = parser.parse_args()
    asyncio.run(drill(args.clients, args.invoices, args.seed))
    if args.weeks:
        asyncio.run(traffic(args.weeks, args.seed))


if __name__ == "__main__":
    main()
