"""``freshforce sandbox`` runs the Salesforce Pub/Sub server beside REST, on one org."""

from __future__ import annotations

import io
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import fastavro
import grpc
import httpx
import pytest

from freshforce.proto import pubsub_api_pb2 as pb
from freshforce.proto import pubsub_api_pb2_grpc as pb_grpc

COMMAND = Path(sys.executable).with_name("freshforce")
FREE_PORTS = ("--freshbooks-port", "0", "--salesforce-port", "0", "--pubsub-port", "0")


@pytest.fixture
def announced() -> Iterator[dict[str, str]]:
    """Start the command on free ports; return what it printed, by label."""
    process = subprocess.Popen(
        [str(COMMAND), "sandbox", *FREE_PORTS],
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
        assert lines, "the command printed nothing"
        assert lines[-1].startswith("Ready."), "\n".join(lines)
        found: dict[str, str] = {}
        section = ""
        for line in lines:
            label, _, value = line.strip().partition("  ")
            if not line.startswith(" "):
                section = label
            found.setdefault(f"{section}/{label}", value.strip())
        yield found
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
        process.stdout.close()


async def test_command_serves_pubsub_for_the_rest_org(announced: dict[str, str]) -> None:
    rest_url = announced["Salesforce sandbox/Salesforce sandbox"]
    target = re.sub(r" \(.*\)$", "", announced["Salesforce Pub/Sub/Salesforce Pub/Sub"])
    token = announced["Salesforce sandbox/access_token"]
    org_id = announced["Salesforce sandbox/org_id"]
    metadata = (("accesstoken", token), ("instanceurl", rest_url), ("tenantid", org_id))

    async with httpx.AsyncClient(base_url=rest_url, timeout=10) as rest:
        created = await rest.post(
            "/services/data/v59.0/sobjects/Account/",
            json={"Name": "From the command"},
            headers={"Authorization": f"Bearer {token}", "Sforce-Call-Options": "client=demo"},
        )
    assert created.status_code == 201, created.text

    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.PubSubStub(channel)
        call = stub.Subscribe(metadata=metadata)
        await call.write(
            pb.FetchRequest(
                topic_name="/data/AccountChangeEvent", replay_preset=pb.EARLIEST, num_requested=1
            )
        )
        (event,) = (await call.read()).events
        call.cancel()
        info = await stub.GetSchema(
            pb.SchemaRequest(schema_id=event.event.schema_id), metadata=metadata
        )
    parsed = fastavro.parse_schema(json.loads(info.schema_json))
    body = fastavro.schemaless_reader(io.BytesIO(event.event.payload), parsed, None)
    assert body["Name"] == "From the command"
    assert body["ChangeEventHeader"]["changeOrigin"].endswith(";client=demo")
    assert body["ChangeEventHeader"]["recordIds"] == [created.json()["id"]]
