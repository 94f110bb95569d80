"""Two sandbox orgs as qa and prod: validate against the org, refuse, dry run, promote."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.connectors.salesforce.governor import Priority
from freshforce.embedded import FB_ACCOUNT, Embedded, open_embedded
from freshforce.engine import JobRequest, JobStatus, RetryPolicy, Worker, WorkerConfig
from freshforce.environments import apply_directory, version_maps
from freshforce.environments.orgcheck import check_environment, check_org
from freshforce.environments.promote import promote
from freshforce.flows import builtin_flows
from freshforce.flows.clients_bulk import apply_initial, plan_initial
from freshforce.mapping import MapSet, load_maps
from freshforce.store.audit import list_audit
from freshforce.store.config_versions import active_version

from .conftest import set_value

NOW = datetime(2026, 12, 5, 9, tzinfo=UTC)
TIER_RULE = """
  - salesforce: Account.Tier__c
    direction: to_salesforce
    default: $tier
"""
SEGMENT_RULE = """
  - salesforce: Account.Segment__c
    direction: to_salesforce
    default: $segment
"""


@dataclass
class Orgs:
    qa: Embedded
    prod: Embedded
    maps: Path


async def add_field(org: Embedded, name: str, **spec: Any) -> None:
    body = {"object": "Account", "name": name, **spec}
    response = await org.sf_admin.post("/_sandbox/salesforce/fields", json=body)
    assert response.status_code == 201, response.text


async def fb_client(org: Embedded, **fields: Any) -> int:
    path = f"/accounting/account/{FB_ACCOUNT}/users/clients"
    response = await org.fb_user.post(path, json={"client": fields})
    assert response.status_code == 200, response.text
    return int(response.json()["response"]["result"]["client"]["id"])


async def writes(org: Embedded) -> list[str]:
    found = []
    for admin in (org.fb_admin, org.sf_admin):
        response = await admin.get("/_sandbox/requests", params={"method": "writes"})
        found += [f"{r['method']} {r['path']}" for r in response.json()["requests"]]
    return [w for w in found if "oauth" not in w and "/auth/" not in w]


async def apply_to_qa(orgs: Orgs, message: str) -> None:
    qa = orgs.qa.runtime
    await apply_directory(
        qa.engine, qa.settings, directory=orgs.maps, author="ana", message=message, now=NOW
    )


@pytest.fixture
async def orgs(
    database_url: str, store_engine: AsyncEngine, tmp_path: Path, maps_dir: Path
) -> AsyncIterator[Orgs]:
    del store_engine  # prod's store, migrated; the runtime opens its own engine on it
    qa = await open_embedded(
        f"sqlite+aiosqlite:///{tmp_path / 'qa.db'}", maps_dir, profile="qa",
        data_dir=tmp_path / "qa",
    )  # fmt: skip
    prod = await open_embedded(database_url, maps_dir, profile="prod", data_dir=tmp_path / "prod")
    try:
        await add_field(qa, "Tier__c", type="picklist", picklist_values=["Gold", "Platinum"])
        await add_field(qa, "Segment__c", type="string")
        await add_field(prod, "Tier__c", type="picklist", picklist_values=["Gold", "Silver"])
        text = (maps_dir / "values.yaml").read_text()
        text = text.replace("values:\n", "values:\n  tier: Gold\n  segment: SMB\n", 1)
        (maps_dir / "values.yaml").write_text(text)
        yield Orgs(qa, prod, maps_dir)
    finally:
        await qa.aclose()
        await prod.aclose()


async def test_validate_names_fields_and_picklist_values_the_target_lacks(orgs: Orgs) -> None:
    clients = orgs.maps / "clients.yaml"
    clients.write_text(clients.read_text() + TIER_RULE + SEGMENT_RULE)
    set_value(orgs.maps, "tier", "Platinum")
    lines = clients.read_text().splitlines()
    tier_line = lines.index("  - salesforce: Account.Tier__c") + 1
    segment_line = lines.index("  - salesforce: Account.Segment__c") + 1
    qa_maps = load_maps(orgs.maps, profile="qa")
    qa_pair = await orgs.qa.runtime.pair("default")
    assert await check_org(qa_maps, qa_pair.salesforce, env="qa") == []
    prod_pair = await orgs.prod.runtime.pair("default")
    problems = await check_org(
        load_maps(orgs.maps, profile="prod"), prod_pair.salesforce, env="prod"
    )
    assert [(Path(p.file).name, p.line, p.message) for p in problems] == [
        (
            "clients.yaml",
            tier_line,
            (
                "named value $tier gives 'Platinum', not a picklist value of Account.Tier__c "
                "in prod; its values: Gold, Silver"
            ),
        ),
        (
            "clients.yaml",
            segment_line,
            "Salesforce field Account.Segment__c does not exist in prod",
        ),
    ]
    calls = orgs.prod.runtime.counter.calls("sf-main")
    await check_org(load_maps(orgs.maps, profile="prod"), prod_pair.salesforce, env="prod")
    assert orgs.prod.runtime.counter.calls("sf-main") == calls  # describes cached


async def test_promotion_is_refused_on_a_problem_and_records_nothing(orgs: Orgs) -> None:
    clients = orgs.maps / "clients.yaml"
    clients.write_text(clients.read_text() + SEGMENT_RULE)
    await apply_to_qa(orgs, "segments")
    result = await promote(orgs.qa.runtime, orgs.prod.runtime, dry_run=False, author="bo", now=NOW)
    assert [p.message for p in result.problems] == [
        "Salesforce field Account.Segment__c does not exist in prod"
    ]
    assert result.problems[0].file == "clients.yaml (qa v1)"
    assert result.version is None
    async with orgs.prod.runtime.engine.connect() as conn:
        assert await active_version(conn, "prod") is None


async def test_dry_run_predicts_field_by_field_what_the_promotion_then_does(orgs: Orgs) -> None:
    clients = orgs.maps / "clients.yaml"
    clients.write_text(clients.read_text() + TIER_RULE)
    set_value(orgs.maps, "account_type", "Partner")
    await apply_to_qa(orgs, "partners")
    ids = [
        await fb_client(orgs.prod, organization="Acme Ltd", email="ops@acme.test", fname="Ann"),
        await fb_client(orgs.prod, organization="Birch Co", email="hi@birch.test", fname="Bo"),
    ]
    for admin in (orgs.prod.fb_admin, orgs.prod.sf_admin):
        await admin.delete("/_sandbox/requests")
    dry = await promote(orgs.qa.runtime, orgs.prod.runtime, dry_run=True, author="bo", now=NOW)
    assert dry.problems == []
    assert await writes(orgs.prod) == []  # the dry run wrote nothing anywhere
    async with orgs.prod.runtime.engine.connect() as conn:
        assert await active_version(conn, "prod") is None
    flows = {f.flow: f for f in dry.predictions}
    assert flows["clients"].counts["create in Salesforce"] == 2
    assert (flows["invoices"].predicted, flows["payments"].predicted) == (False, False)
    predicted = {r.record: {c.field: c.after for c in r.fields} for r in flows["clients"].records}
    assert set(predicted) == {f"Acme Ltd (client {ids[0]})", f"Birch Co (client {ids[1]})"}
    assert predicted[f"Acme Ltd (client {ids[0]})"]["Account.Type"] == "Partner"
    assert predicted[f"Acme Ltd (client {ids[0]})"]["Account.Tier__c"] == "Gold"

    done = await promote(orgs.qa.runtime, orgs.prod.runtime, dry_run=False, author="bo", now=NOW)
    assert done.version is not None
    assert (done.version.version, done.version.checksum) == (1, done.source.checksum)
    async with orgs.prod.runtime.engine.connect() as conn:
        audit = await list_audit(conn, action="config.promote")
        active = await active_version(conn, "prod")
    assert [(e.actor, e.target) for e in audit] == [("bo", "config:prod:v1")]
    assert active is not None
    assert active.message == "promoted from qa v1: partners"

    # What the promoted version then does on prod's first sync, record by record.
    prod = orgs.prod.runtime
    flow = version_maps(prod.settings, active)["clients"]
    pair = await prod.pair("default")
    plan = await plan_initial(flow, pair, prod.engine, tenant="default")
    await apply_initial(plan, prod.engine)
    for client_id in ids:
        label = next(r for r in predicted if r.endswith(f"(client {client_id})"))
        fields = {ref.partition(".")[2]: v for ref, v in predicted[label].items()
                  if ref.startswith("Account.")}  # fmt: skip
        accounts = await pair.salesforce.query(
            f"SELECT Id, {', '.join(sorted(fields))} FROM Account "  # noqa: S608 - test names
            f"WHERE FreshBooks_Client_Id__c = '{client_id}'",
            priority=Priority.CLIENTS,
        )
        assert len(accounts) == 1
        # Salesforce stores an empty text as null.
        stored = {name: accounts[0].get(name) for name in fields}
        assert stored == {name: None if v == "" else v for name, v in fields.items()}


async def run_clients(org: Embedded, maps: MapSet, keys: list[str]) -> None:
    """Run prod's worker with ``maps`` on ``keys`` until the queue is quiet."""
    runtime = org.runtime
    queue = runtime.queue()
    async with runtime.engine.begin() as db:
        await queue.enqueue_many(db, [JobRequest("clients", k) for k in keys])
    worker = Worker(
        queue, builtin_flows(runtime, maps), name="prod-worker", policy=RetryPolicy.zero_wait(),
        rng=random.Random(1), config=WorkerConfig(concurrency=2, batch_size=20, poll_interval=0.02),
    )  # fmt: skip
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        async with asyncio.timeout(30):
            while True:
                counts = await queue.counts()
                if not counts.get(JobStatus.PENDING) and not counts.get(JobStatus.RUNNING):
                    break
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
    assert (await queue.counts()).get(JobStatus.DEAD, 0) == 0


async def test_dry_run_on_linked_records_matches_what_the_flow_then_does(orgs: Orgs) -> None:
    await apply_to_qa(orgs, "defaults")
    ids = [
        await fb_client(
            orgs.prod, organization=f"Org {n}", email=f"o{n}@x.test", fname="A", lname=n
        )
        for n in "ab"
    ]
    first = await promote(orgs.qa.runtime, orgs.prod.runtime, dry_run=False, author="a", now=NOW)
    assert first.version is not None
    prod = orgs.prod.runtime
    await run_clients(orgs.prod, version_maps(prod.settings, first.version), [
        f"freshbooks/client/{i}" for i in ids
    ])  # fmt: skip
    clients = orgs.maps / "clients.yaml"
    clients.write_text(clients.read_text() + TIER_RULE)
    await apply_to_qa(orgs, "tiers")
    path = f"/accounting/account/{FB_ACCOUNT}/users/clients/{ids[0]}"
    edit = await orgs.prod.fb_user.put(path, json={"client": {"organization": "Org A2"}})
    assert edit.status_code == 200, edit.text
    for admin in (orgs.prod.fb_admin, orgs.prod.sf_admin):
        await admin.delete("/_sandbox/requests")
    dry = await promote(orgs.qa.runtime, orgs.prod.runtime, dry_run=True, author="a", now=NOW)
    assert await writes(orgs.prod) == []
    clients_flow = next(f for f in dry.predictions if f.flow == "clients")
    # The three-way merge writes what changed since the last sync: the edited name, and the
    # rule added since then only on a record that changes. The dry run says so...
    assert dict(clients_flow.counts) == {"leave": 1, "update": 1}
    (record,) = clients_flow.records
    assert record.record == f"Org A2 (client {ids[0]})"
    predicted = {c.field: (c.before, c.after) for c in record.fields}
    assert predicted["Account.Name"] == ("Org a", "Org A2")
    second = await promote(orgs.qa.runtime, orgs.prod.runtime, dry_run=False, author="a", now=NOW)
    assert second.version is not None
    assert second.version.version == 2
    await run_clients(orgs.prod, version_maps(prod.settings, second.version), [
        f"freshbooks/client/{i}" for i in ids
    ])  # fmt: skip
    pair = await prod.pair("default")
    names = sorted({ref.partition(".")[2] for ref in predicted} | {"Name", "Tier__c"})
    accounts = await pair.salesforce.query(
        f"SELECT FreshBooks_Client_Id__c, {', '.join(names)} FROM Account",  # noqa: S608 - test
        priority=Priority.CLIENTS,
    )
    by_client = {a["FreshBooks_Client_Id__c"]: a for a in accounts}
    # ... and the flow then does exactly that, field by field; the other record is left alone.
    for ref, (_, after) in predicted.items():
        assert by_client[str(ids[0])][ref.partition(".")[2]] == after, ref
    assert (by_client[str(ids[1])]["Name"], by_client[str(ids[1])]["Tier__c"]) == ("Org b", None)


async def test_validate_names_the_platform_events_the_org_lacks(orgs: Orgs) -> None:
    """The environment check adds the platform events the settings need and the org lacks."""
    maps = load_maps(orgs.maps, profile="prod")
    pair = await orgs.prod.runtime.pair("default")
    settings = orgs.prod.runtime.settings
    assert await check_environment(maps, pair.salesforce, settings) == []
    wanting = settings.model_copy(update={"platform_event_channels": ["Nobody_Made_This__e"]})
    problems = await check_environment(maps, pair.salesforce, wanting)
    assert len(problems) == 1
    assert problems[0].file.startswith("settings (platform_event_channels")
    assert "Nobody_Made_This__e" in problems[0].message
