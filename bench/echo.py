"""The echo-loop drill: alternating edits on both sides of linked records write nothing extra.

    uv run python bench/echo.py                             # 1,000 edits on 100 linked records
    uv run python bench/echo.py --edits 60 --records 10 --json   # the reduced run in `make test`

Both sandboxes run in this process; freshforce runs as in service (chaos.Service: the web app on a
real socket taking FreshBooks' signed webhooks, both pollers every second, a worker), without
faults. ``--records`` clients are created in FreshBooks and linked to new Accounts; then a person
makes ``--edits`` edits, alternating: a client's phone in FreshBooks, an Account's city in
Salesforce, each on a record chosen at random. After quiet (and two more poll ticks, so that any
echo has a chance to come back), the sandboxes' own request log is read: every write freshforce's
user made since the links were in place is attributed to the record it touched. An echo is a
write to a side with no edit on the other side to propagate: more Salesforce writes for a record
than its FreshBooks edits, more FreshBooks writes than its Salesforce edits, any write carrying a
value that came from the side it writes to, or any write in the last quiet window.

It prints writes per edit and the echo count; the drill fails unless echoes are 0 and both sides
show every record's last edit (chaos.check).
"""

import argparse
import asyncio
import random
import re
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from chaos import FB, SF, Person, Service, check, faults, person, sf_query
from drillkit import finish, quiet
from freshforce.embedded import Embedded, open_embedded
from freshforce.mapping import load_maps, write_defaults
from freshforce.sandbox.core import LoggedRequest

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_SF_ID = re.compile(r"\b001[0-9A-Za-z]{12,15}\b")  # an Account id
_CONTACT_ID = re.compile(r"\b003[0-9A-Za-z]{12,15}\b")


class Log:
    """Every request the sandboxes served from a point on (the log itself keeps the last 10,000)."""

    def __init__(self, world: Embedded) -> None:
        self.world = world
        self.seen: list[LoggedRequest] = []
        self.after = max((e.id for e in world.sandboxes.requests.entries()), default=0)

    def collect(self) -> None:
        fresh = [e for e in self.world.sandboxes.requests.entries() if e.id > self.after]
        if fresh:
            self.after = fresh[-1].id
            self.seen += fresh

    async def keep_collecting(self) -> None:
        while True:
            self.collect()
            await asyncio.sleep(0.2)


async def integration_users(world: Embedded) -> tuple[str, str]:
    """Freshforce's own user in each sandbox (the first user: the connection's)."""
    fb = (await world.fb_admin.get("/_sandbox/users")).json()["users"][0]["id"]
    sf = (await world.sf_admin.get("/_sandbox/users")).json()["users"][0]["id"]
    return str(fb), str(sf)


async def link(who: Person, service: Service, records: int) -> dict[int, str]:
    """Create ``records`` clients and wait for their Accounts; client id → Account id."""
    for i in range(records):
        await who.client(f"Echo Co {i:04d}")
    await service.quiet(300)
    await asyncio.sleep(2.5)  # two poll ticks
    await service.quiet(300)
    rows = await sf_query(who.world, "SELECT Id, FreshBooks_Client_Id__c FROM Account")
    linked = {
        int(r["FreshBooks_Client_Id__c"]): r["Id"] for r in rows if r["FreshBooks_Client_Id__c"]
    }
    if len(linked) != records:
        raise SystemExit(f"only {len(linked)} of {records} clients were linked")
    return linked


async def contacts_of(world: Embedded) -> dict[str, str]:
    """Contact id → its Account id."""
    rows = await sf_query(world, "SELECT Id, AccountId FROM Contact")
    return {r["Id"]: r["AccountId"] for r in rows if r["AccountId"]}


def attribute(
    entry: LoggedRequest, accounts: dict[str, int], contacts: dict[str, str]
) -> tuple[str, set[int]]:
    """Return the side a write went to and the clients (by FreshBooks id) it touched."""
    text = f"{entry.path} {entry.request_body or ''}"
    if entry.path.startswith(FB):
        found = {int(m) for m in re.findall(r"/users/clients/(\d+)", entry.path)}
        return "freshbooks", found
    touched: set[int] = set()
    for account in _SF_ID.findall(text):
        if account in accounts:
            touched.add(accounts[account])
    for contact in _CONTACT_ID.findall(text):
        if contact in contacts and contacts[contact] in accounts:
            touched.add(accounts[contacts[contact]])
    return "salesforce", touched


def echoes(
    writes: list[LoggedRequest],
    linked: dict[int, str],
    contacts: dict[str, str],
    edits: Counter[tuple[str, int]],
    values: dict[str, set[str]],
) -> Counter[str]:
    """Count writes that no edit on the other side explains."""
    accounts = {account: client for client, account in linked.items()}
    per_record: Counter[tuple[str, int]] = Counter()
    found: Counter[str] = Counter()
    for entry in writes:
        side, touched = attribute(entry, accounts, contacts)
        if not touched:
            found[f"{side} writes to no edited record: {entry.method} {entry.path}"] += 1
        for client in touched:
            per_record[side, client] += 1
        body = entry.request_body or ""
        own = values["freshbooks" if side == "freshbooks" else "salesforce"]
        if any(value in body for value in own):
            found[f"{side} writes carrying a value edited on {side}"] += 1
    for (side, client), count in per_record.items():
        source = "salesforce" if side == "freshbooks" else "freshbooks"
        extra = count - edits[source, client]
        if extra > 0:
            found[f"{side} writes beyond the edits' propagation"] += extra
    return found


async def edit(
    who: Person, linked: dict[int, str], rng: random.Random, n: int
) -> tuple[Counter[tuple[str, int]], dict[str, set[str]]]:
    clients = sorted(linked)
    edits: Counter[tuple[str, int]] = Counter()
    values: dict[str, set[str]] = {"freshbooks": set(), "salesforce": set()}
    for i in range(n):
        client = rng.choice(clients)
        if i % 2 == 0:
            phone = f"555-{i:05d}"
            await who.phone(client, phone)
            edits["freshbooks", client] += 1
            values["freshbooks"].add(phone)
        else:
            city = f"Echoville {i:05d}"
            await who.city(linked[client], city)
            edits["salesforce", client] += 1
            values["salesforce"].add(city)
        await asyncio.sleep(rng.uniform(0, 0.02))
    return edits, values


async def drill(seed: int, edits_n: int, records: int) -> dict[str, Any]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "freshforce"
        write_defaults(config)
        world = await open_embedded(f"sqlite+aiosqlite:///{tmp}/echo.db", config, seed=seed)
        maps = load_maps(config, profile="dev")
        who = await person(world)
        service = Service(world, maps, rng)
        await service.start()
        await faults(world, 0.0, on=False)
        fb_user, sf_user = await integration_users(world)
        linked = await link(who, service, records)
        log = Log(world)
        collector = asyncio.create_task(log.keep_collecting())
        started = time.monotonic()
        edits, values = await edit(who, linked, rng, edits_n)
        await service.quiet(300)
        await asyncio.sleep(2.5)  # two poll ticks: an echo would be picked up and queued
        await service.quiet(300)
        settled = time.monotonic() - started
        log.collect()
        before_tail = len(log.seen)
        await asyncio.sleep(2.5)  # a loop keeps writing; nothing should move now
        await service.quiet(300)
        log.collect()
        collector.cancel()
        ours = {fb_user, sf_user}
        writes = [e for e in log.seen if e.user in ours and e.method in WRITES]
        writes = [e for e in writes if not e.path.endswith("/query")]
        tail = [e for e in log.seen[before_tail:] if e.user in ours and e.method in WRITES]
        contacts = await contacts_of(world)
        found = echoes(writes, linked, contacts, edits, values)
        if tail:
            found["writes after quiet"] = len(tail)
        wrong = await check(world, who)
        fb_writes = sum(1 for e in writes if e.path.startswith(FB))
        sf_writes = sum(1 for e in writes if e.path.startswith(SF))
        report = {
            "seed": seed,
            "records": records,
            "edits": edits_n,
            "freshbooks_edits": edits_n - edits_n // 2,
            "salesforce_edits": edits_n // 2,
            "salesforce_writes": sf_writes,
            "freshbooks_writes": fb_writes,
            "writes_per_edit": round((fb_writes + sf_writes) / max(edits_n, 1), 3),
            "requests_seen": len(log.seen),
            "seconds_to_settle": round(settled, 1),
            "echoes": dict(found),
            "wrong": dict(wrong),
        }
        await service.close()
        await who.fb.aclose()
        await who.sf.aclose()
        await world.aclose()
        return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--edits", type=int, default=1000)
    parser.add_argument("--records", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    quiet()
    report = asyncio.run(drill(args.seed, args.edits, args.records))
    finish(report, as_json=args.json, failures=("echoes", "wrong"))


if __name__ == "__main__":
    main()
