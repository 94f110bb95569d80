"""Several users in the Salesforce sandbox: request log, audit fields, CDC and aimed faults."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import fastavro
import grpc
import httpx
import pytest

from freshforce.proto import pubsub_api_pb2 as pb
from freshforce.proto import pubsub_api_pb2_grpc as pb_grpc
from freshforce.sandbox.core import SandboxRuntime
from freshforce.sandbox.salesforce.build import SalesforceSandbox, build_salesforce_sandbox
from freshforce.sandbox.salesforce.pubsub import PubSubControls, attach_pubsub

API = "/services/data/v59.0"
TESTER = {"name": "Tess Tester", "email": "tess@example.test", "role": "Sales rep"}
INTEGRATION = {"name": "freshforce", "email": "sync@example.test", "role": "Integration"}


@dataclass
class Org:
    sandbox: SalesforceSandbox
    rest: httpx.AsyncClient
    stub: pb_grpc.PubSubStub
    schemas: dict[str, Any] = field(default_factory=dict)
    integration_token: str = ""  # its writes carry Sforce-Call-Options: client=freshforce

    async def add_user(self, body: dict[str, str]) -> dict[str, Any]:
        response = await self.rest.post("/_sandbox/users", json=body)
        assert response.status_code == 201, response.text
        user: dict[str, Any] = response.json()
        return user

    async def token(self, user: str, client: str | None = None) -> str:
        response = await self.rest.post("/_sandbox/tokens", json={"user": user, "client": client})
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    async def call(
        self, token: str, method: str, path: str, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"}
        if token == self.integration_token:
            headers["Sforce-Call-Options"] = "client=freshforce"
        return await self.rest.request(method, API + path, json=body, headers=headers)

    async def subscribe(self, token: str) -> Any:
        metadata = (
            ("accesstoken", token),
            ("instanceurl", "https://127.0.0.1"),
            ("tenantid", self.sandbox.state.org_id),
        )
        call = self.stub.Subscribe(metadata=metadata)
        await call.write(pb.FetchRequest(topic_name="/data/AccountChangeEvent", num_requested=10))
        assert not (await call.read()).events  # a keepalive: subscribed at LATEST
        return call, metadata

    async def read_changes(self, subscription: Any, count: int) -> list[dict[str, Any]]:
        call, metadata = subscription
        events: list[Any] = []
        while len(events) < count:
            events.extend((await call.read()).events)
        decoded = []
        for event in events:
            schema_id = event.event.schema_id
            if schema_id not in self.schemas:
                info = await self.stub.GetSchema(
                    pb.SchemaRequest(schema_id=schema_id), metadata=metadata
                )
                self.schemas[schema_id] = fastavro.parse_schema(json.loads(info.schema_json))
            reader = io.BytesIO(event.event.payload)
            decoded.append(fastavro.schemaless_reader(reader, self.schemas[schema_id], None))
        return decoded


@pytest.fixture
async def org() -> AsyncIterator[Org]:
    runtime = SandboxRuntime.create(seed=11)
    sandbox = build_salesforce_sandbox(runtime, seed=11)
    runner = attach_pubsub(
        sandbox, clock=runtime.clock.now, controls=PubSubControls(keepalive_seconds=0.1)
    )
    serving = asyncio.create_task(runner.serve())
    await runner.wait_started()
    transport = httpx.ASGITransport(app=sandbox.app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="https://sandbox") as rest,
        grpc.aio.insecure_channel(runner.target) as channel,
    ):
        yield Org(sandbox, rest, pb_grpc.PubSubStub(channel))
    runner.request_stop()
    await serving
    await runtime.aclose()


async def test_two_users_editing_one_account_show_in_log_audit_fields_and_cdc(org: Org) -> None:
    tester = await org.add_user(TESTER)
    integration = await org.add_user(INTEGRATION)
    person = await org.token("tess@example.test", client="lightning")
    ours = org.integration_token = await org.token("freshforce", client="freshforce-sandbox")
    subscription = await org.subscribe(person)
    await org.rest.delete("/_sandbox/requests")

    made = await org.call(person, "POST", "/sobjects/Account", {"Name": "Acme"})
    account = made.json()["id"]
    after_person = (await org.call(ours, "GET", f"/sobjects/Account/{account}")).json()
    edited = await org.call(ours, "PATCH", f"/sobjects/Account/{account}", {"Phone": "555"})
    after_both = (await org.call(person, "GET", f"/sobjects/Account/{account}")).json()
    changes = await org.read_changes(subscription, 2)
    subscription[0].cancel()

    assert (made.status_code, edited.status_code) == (201, 204)
    assert after_person["CreatedById"] == after_person["LastModifiedById"] == tester["id"]
    assert after_both["CreatedById"] == after_both["OwnerId"] == tester["id"]
    assert after_both["LastModifiedById"] == integration["id"]
    headers = [c["ChangeEventHeader"] for c in changes]
    assert [(h["changeType"], h["commitUser"], h["changeOrigin"]) for h in headers] == [
        ("CREATE", tester["id"], "com/salesforce/api/rest/59.0"),
        ("UPDATE", integration["id"], "com/salesforce/api/rest/59.0;client=freshforce"),
    ]
    writes = (await org.rest.get("/_sandbox/requests", params={"method": "writes"})).json()
    # The log names the OAuth client of the token; the call option stays in the headers.
    assert [(e["method"], e["user"], e["user_name"], e["client"]) for e in writes["requests"]] == [
        ("POST", tester["id"], "Tess Tester", "lightning"),
        ("PATCH", integration["id"], "freshforce", "freshforce-sandbox"),
    ]
    assert writes["requests"][1]["headers"]["sforce-call-options"] == "client=freshforce"
    theirs = await org.rest.get("/_sandbox/requests", params={"user": "sync@example.test"})
    assert [e["method"] for e in theirs.json()["requests"]] == ["GET", "PATCH"]


async def test_a_fault_aimed_at_the_integration_never_hits_the_tester(org: Org) -> None:
    await org.add_user(TESTER)
    integration = await org.add_user(INTEGRATION)
    person = await org.token("Tess Tester")
    ours = await org.token("freshforce")
    rule = await org.rest.post(
        "/_sandbox/faults",
        json={"kind": "error", "status": 500, "path": "/services/data/*", "user": "freshforce"},
    )
    assert rule.status_code == 201, rule.text

    mine = [
        await org.call(person, "POST", "/sobjects/Account", {"Name": f"P{n}"}) for n in range(5)
    ]
    theirs = [
        await org.call(ours, "POST", "/sobjects/Account", {"Name": f"I{n}"}) for n in range(3)
    ]

    assert [r.status_code for r in mine] == [201] * 5
    assert [r.status_code for r in theirs] == [500] * 3
    assert {r.json()[0]["errorCode"] for r in theirs} == {"UNABLE_TO_LOCK_ROW"}
    names = [r["Name"] for r in org.sandbox.state.records("Account")]
    assert names == [f"P{n}" for n in range(5)]
    hit = (await org.rest.get("/_sandbox/requests", params={"user": integration["id"]})).json()
    assert [e["fault"] for e in hit["requests"]] == ["error"] * 3


async def test_users_are_user_records_and_reset_forgets_added_ones(org: Org) -> None:
    tester = await org.add_user(TESTER)
    clash = await org.rest.post("/_sandbox/users", json={**TESTER, "name": "Other"})
    admin_token = await org.token("admin@freshforce.sandbox")
    queried = await org.call(admin_token, "GET", "/query?q=SELECT+Name,Title+FROM+User")
    listed = (await org.rest.get("/_sandbox/users")).json()["users"]
    await org.rest.post("/_sandbox/reset")
    after = (await org.rest.get("/_sandbox/users")).json()["users"]
    gone = await org.rest.post("/_sandbox/tokens", json={"user": tester["id"]})

    assert tester["id"].startswith("005")
    assert (tester["username"], tester["role"]) == ("tess@example.test", "Sales rep")
    assert clash.status_code == 422
    assert "tess@example.test" in clash.text
    rows = [(r["Name"], r["Title"]) for r in queried.json()["records"]]
    assert rows == [("Sandbox Admin", None), ("Tess Tester", "Sales rep")]
    assert [(u["name"], u["role"]) for u in listed] == [
        ("Sandbox Admin", "System Administrator"),
        ("Tess Tester", "Sales rep"),
    ]
    assert [u["name"] for u in after] == ["Sandbox Admin"]
    assert gone.status_code == 404
