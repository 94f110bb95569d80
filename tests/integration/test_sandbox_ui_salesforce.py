"""A person in the Salesforce UI, silent edits and seeds: seen through REST and Pub/Sub CDC."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
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
ADMIN = "admin@freshforce.sandbox"
LIGHTNING = "com/salesforce/api/rest/59.0"


@dataclass
class World:
    sandbox: SalesforceSandbox
    rest: httpx.AsyncClient
    stub: pb_grpc.PubSubStub
    token: str
    schemas: dict[str, Any]

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (
            ("accesstoken", self.token),
            ("instanceurl", "https://127.0.0.1"),
            ("tenantid", self.sandbox.state.org_id),
        )

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Sforce-Call-Options": "client=freshforce"}

    async def create(self, name: str, body: dict[str, Any]) -> str:
        response = await self.rest.post(f"{API}/sobjects/{name}", json=body, headers=self.auth)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def get(self, name: str, record_id: str) -> httpx.Response:
        return await self.rest.get(f"{API}/sobjects/{name}/{record_id}", headers=self.auth)

    async def query_all(self, soql: str) -> list[dict[str, Any]]:
        response = await self.rest.get(f"{API}/queryAll", params={"q": soql}, headers=self.auth)
        assert response.status_code == 200, response.text
        records: list[dict[str, Any]] = response.json()["records"]
        return records

    async def admin(self, path: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
        response = await self.rest.post(f"/_sandbox/salesforce/{path}", json=body)
        assert response.status_code == status, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def subscribe(self) -> Any:
        """Subscribe to every change from now on; return once the server has the subscription."""
        call = self.stub.Subscribe(metadata=self.metadata)
        await call.write(pb.FetchRequest(topic_name="/data/ChangeEvents", num_requested=100))
        assert not (await call.read()).events  # a keepalive: subscribed, nothing yet
        return call

    async def changes(self, call: Any, count: int) -> list[dict[str, Any]]:
        """Read ``count`` change events, decoded, then check that nothing more comes."""
        events: list[Any] = []
        while len(events) < count:
            events.extend((await call.read()).events)
        assert len(events) == count
        assert not (await call.read()).events  # the next answer is only a keepalive
        return [await self._decode(e) for e in events]

    async def _decode(self, event: Any) -> dict[str, Any]:
        schema_id = event.event.schema_id
        if schema_id not in self.schemas:
            info = await self.stub.GetSchema(
                pb.SchemaRequest(schema_id=schema_id), metadata=self.metadata
            )
            self.schemas[schema_id] = fastavro.parse_schema(json.loads(info.schema_json))
        decoded: dict[str, Any] = fastavro.schemaless_reader(
            io.BytesIO(event.event.payload), self.schemas[schema_id], None
        )
        return decoded


def headers_of(changes: list[dict[str, Any]]) -> list[tuple[str, str, list[str]]]:
    return [
        (
            c["ChangeEventHeader"]["entityName"],
            c["ChangeEventHeader"]["changeType"],
            c["ChangeEventHeader"]["recordIds"],
        )
        for c in changes
    ]


@pytest.fixture
async def world() -> AsyncIterator[World]:
    runtime = SandboxRuntime.create(seed=3)
    sandbox = build_salesforce_sandbox(runtime, seed=3)
    runner = attach_pubsub(
        sandbox, clock=runtime.clock.now, controls=PubSubControls(keepalive_seconds=0.1)
    )
    serving = asyncio.create_task(runner.serve())
    await runner.wait_started()
    token = sandbox.sessions.mint(sandbox.state.admin_user_id).access_token
    transport = httpx.ASGITransport(app=sandbox.app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="https://sandbox") as rest,
        grpc.aio.insecure_channel(runner.target) as channel,
    ):
        yield World(sandbox, rest, pb_grpc.PubSubStub(channel), token, {})
    runner.request_stop()
    await serving
    await runtime.aclose()


async def test_account_merge_keeps_the_master_and_moves_the_children(world: World) -> None:
    master = await world.create("Account", {"Name": "Acme"})
    loser = await world.create("Account", {"Name": "ACME Inc", "Phone": "555-0100"})
    other = await world.create("Account", {"Name": "Acme Ltd"})
    contact = await world.create("Contact", {"LastName": "Moved", "AccountId": loser})
    deal = await world.create("Opportunity", _deal(loser))
    branch = await world.create("Account", {"Name": "Acme North", "ParentId": other})
    call = await world.subscribe()

    merged = await world.admin(
        "ui/merge",
        {
            "object": "Account",
            "master": master,
            "losers": [loser, other],
            "user": ADMIN,
            "fields": {"Phone": "555-0100"},
        },
    )

    assert merged == {
        "master": master,
        "losers": [loser, other],
        "reparented": [contact, deal, branch],
    }
    assert (await world.get("Account", master)).json()["Phone"] == "555-0100"
    assert (await world.get("Account", loser)).status_code == 404
    gone = await world.query_all(
        f"SELECT Id, IsDeleted, MasterRecordId FROM Account WHERE Id IN ('{loser}', '{other}')"  # noqa: S608 - SOQL
    )
    assert {(r["Id"], r["IsDeleted"], r["MasterRecordId"]) for r in gone} == {
        (loser, True, master),
        (other, True, master),
    }
    assert (await world.get("Contact", contact)).json()["AccountId"] == master
    assert (await world.get("Opportunity", deal)).json()["AccountId"] == master
    assert (await world.get("Account", branch)).json()["ParentId"] == master
    changes = await world.changes(call, 6)
    call.cancel()
    assert headers_of(changes) == [
        ("Account", "UPDATE", [master]),
        ("Account", "DELETE", [loser]),
        ("Account", "DELETE", [other]),
        ("Contact", "UPDATE", [contact]),
        ("Opportunity", "UPDATE", [deal]),
        ("Account", "UPDATE", [branch]),
    ]
    keys = {c["ChangeEventHeader"]["transactionKey"] for c in changes}
    assert len(keys) == 1  # one merge, one transaction
    assert {c["ChangeEventHeader"]["changeOrigin"] for c in changes} == {LIGHTNING}
    assert changes[3]["AccountId"] == master


async def test_contact_merge_moves_roles_and_undelete_brings_a_loser_back(world: World) -> None:
    account = await world.create("Account", {"Name": "Initech"})
    keep = await world.create("Contact", {"LastName": "Lumbergh", "AccountId": account})
    drop = await world.create("Contact", {"LastName": "Lumberg", "AccountId": account})
    deal = await world.create("Opportunity", _deal(account))
    role = await world.create("OpportunityContactRole", {"OpportunityId": deal, "ContactId": drop})
    call = await world.subscribe()

    await world.admin("ui/merge", {"object": "Contact", "master": keep, "losers": [drop]})
    restored = await world.admin("ui/undelete", {"id": drop, "origin": "classic"})

    assert restored == {"undeleted": drop}
    assert (await world.get("OpportunityContactRole", role)).json()["ContactId"] == keep
    assert (await world.get("Contact", drop)).json()["LastName"] == "Lumberg"
    changes = await world.changes(call, 4)
    call.cancel()
    assert headers_of(changes) == [
        ("Contact", "UPDATE", [keep]),
        ("Contact", "DELETE", [drop]),
        ("OpportunityContactRole", "UPDATE", [role]),
        ("Contact", "UNDELETE", [drop]),
    ]
    assert changes[3]["ChangeEventHeader"]["changeOrigin"] == ""  # Classic UI: no origin


async def test_a_merge_the_ui_would_not_offer_changes_nothing(world: World) -> None:
    account = await world.create("Account", {"Name": "Solo"})
    deal = await world.create("Opportunity", _deal(account))
    before = world.sandbox.state.changes.latest_replay_id()

    wrong_object = await world.rest.post(
        "/_sandbox/salesforce/ui/merge",
        json={"object": "Opportunity", "master": deal, "losers": [deal]},
    )
    self_merge = await world.rest.post(
        "/_sandbox/salesforce/ui/merge",
        json={"object": "Account", "master": account, "losers": [account]},
    )
    missing = await world.rest.post(
        "/_sandbox/salesforce/ui/merge",
        json={"object": "Account", "master": account, "losers": ["001000000000000AAA"]},
    )

    assert wrong_object.status_code == 422
    assert "only Account and Contact" in wrong_object.json()["detail"]
    assert self_merge.status_code == 422
    assert "losers" in self_merge.json()["detail"]
    assert missing.status_code in {400, 404}
    assert (await world.get("Account", account)).status_code == 200
    assert world.sandbox.state.changes.latest_replay_id() == before


async def test_a_ui_delete_cascades_and_a_stage_change_has_no_client(world: World) -> None:
    account = await world.create("Account", {"Name": "Globex"})
    contact = await world.create("Contact", {"LastName": "Scorpio", "AccountId": account})
    deal = await world.create("Opportunity", _deal(account))
    call = await world.subscribe()

    staged = await world.admin(
        "ui/update", {"id": deal, "fields": {"StageName": "Closed Won"}, "user": ADMIN}
    )
    await world.admin("ui/delete", {"id": account})

    assert staged == {"updated": deal}
    changes = await world.changes(call, 4)
    call.cancel()
    assert headers_of(changes) == [
        ("Opportunity", "UPDATE", [deal]),
        ("Account", "DELETE", [account]),
        ("Contact", "DELETE", [contact]),
        ("Opportunity", "DELETE", [deal]),
    ]
    stage = changes[0]
    assert stage["StageName"] == "Closed Won"
    assert stage["IsWon"] is True
    assert stage["Probability"] == 100
    assert stage["ChangeEventHeader"]["changeOrigin"] == LIGHTNING
    assert "client=" not in stage["ChangeEventHeader"]["changeOrigin"]
    assert (await world.get("Contact", contact)).status_code == 404


async def test_a_silent_edit_sends_no_event_and_keeps_the_timestamps(world: World) -> None:
    account = await world.create("Account", {"Name": "Quiet", "BillingCity": "Oslo"})
    before = (await world.get("Account", account)).json()
    await world.rest.post("/_sandbox/clock/advance", json={"seconds": 120})
    call = await world.subscribe()

    await world.admin("silent", {"id": account, "fields": {"BillingCity": "Bergen"}})
    kept = (await world.get("Account", account)).json()
    await world.admin("silent", {"id": account, "fields": {"Phone": "1"}, "touch": True})
    touched = (await world.get("Account", account)).json()

    await world.changes(call, 0)
    call.cancel()
    assert kept["BillingCity"] == "Bergen"
    for name in ("LastModifiedDate", "SystemModstamp", "LastModifiedById"):
        assert kept[name] == before[name]
    assert touched["Phone"] == "1"
    assert touched["LastModifiedDate"] > before["LastModifiedDate"]
    edited = datetime.strptime(before["SystemModstamp"], "%Y-%m-%dT%H:%M:%S.%f%z")
    since = (edited + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    soql = f"SELECT Id FROM Account WHERE SystemModstamp > {since}"  # noqa: S608 - SOQL
    polled = await world.query_all(soql)
    assert [r["Id"] for r in polled] == [account]  # only the touched edit is visible to a poll


async def test_seeded_records_carry_their_times_and_owner_with_or_without_events(
    world: World,
) -> None:
    user = await world.create(
        "User",
        {
            "Username": "pat@sandbox.test",
            "LastName": "Pat",
            "Email": "pat@sandbox.test",
            "Alias": "pat",
        },
    )
    call = await world.subscribe()

    quiet = await world.admin(
        "records",
        {
            "object": "Account",
            "records": [
                {
                    "fields": {"Name": "Old Co"},
                    "created": "2024-01-02T03:04:05Z",
                    "updated": "2024-02-03T04:05:06Z",
                    "owner": "pat@sandbox.test",
                },
            ],
        },
        status=201,
    )
    loud = await world.admin(
        "records",
        {
            "object": "Contact",
            "events": True,
            "records": [
                {
                    "fields": {"LastName": "Seen"},
                    "created": "2024-03-01T00:00:00Z",
                    "created_by": user,
                },
            ],
        },
        status=201,
    )

    (account,) = quiet["ids"]
    shown = (await world.get("Account", account)).json()
    assert shown["CreatedDate"] == "2024-01-02T03:04:05.000+0000"
    assert shown["LastModifiedDate"] == "2024-02-03T04:05:06.000+0000"
    assert shown["SystemModstamp"] == "2024-02-03T04:05:06.000+0000"
    assert shown["OwnerId"] == user
    contact = (await world.get("Contact", loud["ids"][0])).json()
    assert contact["CreatedById"] == user
    assert contact["LastModifiedDate"] == "2024-03-01T00:00:00.000+0000"
    changes = await world.changes(call, 1)
    call.cancel()
    assert headers_of(changes) == [("Contact", "CREATE", loud["ids"])]
    assert changes[0]["ChangeEventHeader"]["commitUser"] == user


async def test_seed_errors_name_the_record_and_the_user(world: World) -> None:
    bad_field = await world.rest.post(
        "/_sandbox/salesforce/records",
        json={"object": "Account", "records": [{"fields": {"Name": "ok"}}, {"fields": {}}]},
    )
    bad_user = await world.rest.post(
        "/_sandbox/salesforce/records",
        json={"object": "Account", "records": [{"fields": {"Name": "x"}, "owner": "nobody"}]},
    )

    assert bad_field.status_code == 400
    assert bad_field.json()["detail"]["record"] == 1
    assert bad_field.json()["detail"]["errors"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert bad_user.status_code == 422
    assert "nobody" in bad_user.json()["detail"]


def _deal(account: str) -> dict[str, Any]:
    return {
        "Name": "Deal",
        "StageName": "Prospecting",
        "CloseDate": "2025-01-31",
        "AccountId": account,
    }


async def test_advancing_the_clock_ages_changes_out_of_the_retention_window(world: World) -> None:
    await world.create("Account", {"Name": "Ancient"})
    await world.rest.post("/_sandbox/clock/advance", json={"seconds": 72 * 3600 + 1})
    world.token = (await world.rest.post("/_sandbox/tokens", json={})).json()["access_token"]
    fresh = await world.create("Account", {"Name": "Fresh"})

    call = world.stub.Subscribe(metadata=world.metadata)
    await call.write(
        pb.FetchRequest(
            topic_name="/data/ChangeEvents", replay_preset=pb.EARLIEST, num_requested=10
        )
    )
    changes = await world.changes(call, 1)
    call.cancel()

    assert headers_of(changes) == [("Account", "CREATE", [fresh])]
