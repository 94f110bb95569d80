"""One Salesforce sandbox serving several orgs: REST, OAuth and CDC each keep to their own org."""

from __future__ import annotations

import asyncio
import io
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import fastavro
import grpc
import httpx
import pytest

from freshforce.proto import pubsub_api_pb2 as pb
from freshforce.proto import pubsub_api_pb2_grpc as pb_grpc
from freshforce.sandbox.core import SandboxRuntime
from freshforce.sandbox.multi import SalesforceOrgs, org_username
from freshforce.sandbox.salesforce.build import build_salesforce_sandbox

COMMAND = Path(sys.executable).with_name("freshforce")
API = "/services/data/v59.0"


@pytest.fixture
async def orgs() -> AsyncIterator[tuple[SalesforceOrgs, httpx.AsyncClient]]:
    built = [
        build_salesforce_sandbox(
            SandboxRuntime.create(seed=5 + n),
            seed=5 + n,
            org_number=n + 1,
            username=org_username(n),
        )
        for n in range(2)
    ]
    front = SalesforceOrgs(built)
    transport = httpx.ASGITransport(app=front)
    async with httpx.AsyncClient(transport=transport, base_url="http://sf.test") as client:
        yield front, client


async def login(client: httpx.AsyncClient, number: int) -> tuple[str, str]:
    """Log in with org ``number``'s admin at the shared login host; return token, instance URL."""
    granted = await client.post(
        "/services/oauth2/token",
        data={
            "grant_type": "password",
            "client_id": "freshforce-sandbox",
            "client_secret": "sandbox-secret",
            "username": org_username(number),
            "password": "sandbox-password",
        },
    )
    assert granted.status_code == 200, granted.text
    return granted.json()["access_token"], granted.json()["instance_url"]


async def test_same_names_and_ids_in_two_orgs_stay_apart(
    orgs: tuple[SalesforceOrgs, httpx.AsyncClient],
) -> None:
    front, client = orgs
    assert front.orgs[0].state.org_id != front.orgs[1].state.org_id
    made = {}
    for n in (0, 1):
        token, instance = await login(client, n)
        assert instance == ("http://sf.test" if n == 0 else "http://sf.test/orgs/1")
        headers = {"Authorization": f"Bearer {token}"}
        created = await client.post(
            f"{instance}{API}/sobjects/Account/",
            json={"Name": "Acme", "Phone": str(n)},
            headers=headers,
        )
        assert created.status_code == 201, created.text
        made[n] = (token, instance, created.json()["id"])
    assert made[0][2] == made[1][2]  # the same record id, in two orgs
    for n in (0, 1):
        token, instance, _ = made[n]
        for base in (instance, "http://sf.test"):  # its path, or the root by its token
            found = await client.get(
                f"{base}{API}/query",
                params={"q": "SELECT Name, Phone FROM Account"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert [(r["Name"], r["Phone"]) for r in found.json()["records"]] == [("Acme", str(n))]
    crossed = await client.get(
        f"/orgs/1{API}/query",
        params={"q": "SELECT Name FROM Account"},
        headers={"Authorization": f"Bearer {made[0][0]}"},
    )
    assert crossed.status_code == 401, crossed.text
    snapshot = (await client.get("/orgs/1/_sandbox/snapshot")).json()
    assert front.orgs[1].state.org_id in json.dumps(snapshot)
    listed = (await client.get("/_sandbox/orgs")).json()["orgs"]
    assert [o["username"] for o in listed] == [org_username(0), org_username(1)]
    assert (await client.get(f"/orgs/7{API}/query")).status_code == 404


async def test_find_and_values_read_every_org_at_once(
    orgs: tuple[SalesforceOrgs, httpx.AsyncClient],
) -> None:
    _, client = orgs
    for n, names in ((0, ["Acme", "Both"]), (1, ["Both", "Globex"])):
        token, instance = await login(client, n)
        for name in names:
            created = await client.post(
                f"{instance}{API}/sobjects/Account/",
                json={"Name": name},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert created.status_code == 201, created.text
    asked = {"sobject": "Account", "field": "Name"}
    body = asked | {"values": [[0, "Acme"], [1, "Acme"], [1, "Both"], [0, "Globex"]]}
    found = (await client.post("/_sandbox/orgs/find", json=body)).json()["found"]
    assert [(n, value) for n, value, _, _ in found] == [(0, "Acme"), (1, "Both")]
    assert all(record_id.startswith("001") and created for _, _, record_id, created in found)
    values = (await client.get("/_sandbox/orgs/values", params=asked)).json()["orgs"]
    assert [sorted(v) for v in values] == [["Acme", "Both"], ["Both", "Globex"]]
    bad = await client.post("/_sandbox/orgs/find", json=asked | {"values": [[2, "Acme"]]})
    assert (bad.status_code, "no org 2" in bad.text) == (422, True), bad.text
    unknown = await client.get("/_sandbox/orgs/values", params={"sobject": "Nope", "field": "X"})
    assert unknown.status_code == 422, unknown.text


@pytest.fixture
def command() -> Iterator[dict[str, str]]:
    """``freshforce sandbox --accounts 2`` on free ports: the URLs it printed."""
    process = subprocess.Popen(
        [
            str(COMMAND),
            "sandbox",
            "--accounts",
            "2",
            *("--freshbooks-port", "0", "--salesforce-port", "0", "--pubsub-port", "0"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if line.startswith("Ready."):
            break
    try:
        assert lines[-1].startswith("Ready."), "\n".join(lines)
        text = "\n".join(lines)
        found = {
            "freshbooks": re.findall(r"^FreshBooks sandbox\s+(\S+)", text, re.MULTILINE)[0],
            "salesforce": re.findall(r"^Salesforce sandbox\s+(\S+)", text, re.MULTILINE)[0],
            "pubsub": re.findall(r"^Salesforce Pub/Sub\s+(\S+)", text, re.MULTILINE)[0],
        }
        yield found
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
        process.stdout.close()


async def first_event(
    stub: pb_grpc.PubSubStub, metadata: tuple[tuple[str, str], ...]
) -> pb.ConsumerEvent | None:
    call = stub.Subscribe(metadata=metadata)
    request = pb.FetchRequest(
        topic_name="/data/AccountChangeEvent", replay_preset=pb.EARLIEST, num_requested=5
    )
    await call.write(request)
    try:
        while True:
            reply = await asyncio.wait_for(call.read(), 1.5)
            if reply.events:
                return reply.events[0]
    except TimeoutError:
        return None
    finally:
        call.cancel()


async def test_command_serves_two_orgs_and_cdc_keeps_to_each(command: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=command["salesforce"], timeout=10) as rest:
        orgs = (await rest.get("/_sandbox/orgs")).json()["orgs"]
        tokens = []
        for org in orgs:
            minted = await rest.post(f"{org['instance_path']}/_sandbox/tokens", json={})
            assert minted.status_code == 200, minted.text
            tokens.append(minted.json()["access_token"])
        created = await rest.post(
            f"/orgs/1{API}/sobjects/Account/",
            json={"Name": "Only in org 1"},
            headers={"Authorization": f"Bearer {tokens[1]}"},
        )
        assert created.status_code == 201, created.text
    async with httpx.AsyncClient(base_url=command["freshbooks"], timeout=10) as fb:
        accounts = (await fb.get("/_sandbox/accounts")).json()["accounts"]
        assert len({a["account_id"] for a in accounts}) == 2
    async with grpc.aio.insecure_channel(command["pubsub"]) as channel:
        stub = pb_grpc.PubSubStub(channel)
        seen = []
        for org, token in zip(orgs, tokens, strict=True):
            instance = command["salesforce"] + org["instance_path"]
            metadata = (
                ("accesstoken", token),
                ("instanceurl", instance),
                ("tenantid", org["org_id"]),
            )
            seen.append(await first_event(stub, metadata))
        assert seen[0] is None  # org 0 never hears of org 1's change
        event = seen[1]
        assert event is not None
        info = await stub.GetSchema(
            pb.SchemaRequest(schema_id=event.event.schema_id), metadata=metadata
        )
    body = fastavro.schemaless_reader(
        io.BytesIO(event.event.payload), fastavro.parse_schema(json.loads(info.schema_json)), None
    )
    assert body["Name"] == "Only in org 1"
    assert body["ChangeEventHeader"]["recordIds"] == [created.json()["id"]]
