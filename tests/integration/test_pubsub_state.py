"""Change events from the sandbox's record state, received through the Pub/Sub server."""

from __future__ import annotations

import io
import json
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import fastavro
import grpc
import pytest

from freshforce.proto import pubsub_api_pb2 as pb
from freshforce.proto import pubsub_api_pb2_grpc as pb_grpc
from freshforce.sandbox.salesforce.cdc_entities import CatalogEntities
from freshforce.sandbox.salesforce.objects import FieldSpec
from freshforce.sandbox.salesforce.pubsub import (
    PubSubControls,
    PubSubService,
    TopicRegistry,
    start_pubsub_server,
)
from freshforce.sandbox.salesforce.state import SalesforceState, WriteContext

TOKEN = "sandbox-token"
NOW = datetime(2026, 2, 1, 9, 30, tzinfo=UTC)


@dataclass
class World:
    state: SalesforceState
    stub: pb_grpc.PubSubStub
    metadata: tuple[tuple[str, str], ...]

    def ctx(self, client: str | None = "freshforce") -> WriteContext:
        return WriteContext(user_id=self.state.admin_user_id, client=client)


@pytest.fixture
async def world() -> AsyncIterator[World]:
    state = SalesforceState(clock=lambda: NOW, rng=random.Random(3))
    registry = TopicRegistry(state.changes, CatalogEntities(state.catalog), {})
    service = PubSubService(
        registry=registry,
        check_token={TOKEN: state.org_id}.get,
        controls=PubSubControls(keepalive_seconds=0.2),
        clock=lambda: NOW,
        rng=random.Random(4),
    )
    server = await start_pubsub_server(service)
    metadata = (
        ("accesstoken", TOKEN),
        ("instanceurl", "https://127.0.0.1"),
        ("tenantid", state.org_id),
    )
    async with grpc.aio.insecure_channel(server.target) as channel:
        yield World(state, pb_grpc.PubSubStub(channel), metadata)
    await server.stop(0)


async def events_of(world: World, topic: str, count: int) -> list[tuple[dict[str, Any], Any]]:
    """Subscribe from EARLIEST and decode ``count`` events with the schemas GetSchema serves."""
    call = world.stub.Subscribe(metadata=world.metadata)
    await call.write(pb.FetchRequest(topic_name=topic, replay_preset=pb.EARLIEST, num_requested=50))
    received: list[Any] = []
    while len(received) < count:
        received.extend((await call.read()).events)
    call.cancel()
    decoded = []
    for event in received:
        info = await world.stub.GetSchema(
            pb.SchemaRequest(schema_id=event.event.schema_id), metadata=world.metadata
        )
        schema = json.loads(info.schema_json)
        body = fastavro.schemaless_reader(
            io.BytesIO(event.event.payload), fastavro.parse_schema(schema), None
        )
        decoded.append((body, schema))
    return decoded


def bitmap_names(bitmap: list[str], schema: dict[str, Any]) -> set[str]:
    fields = schema["fields"]
    names: set[str] = set()
    for element in bitmap:
        parent, _, digits = element.rpartition("-")
        bits = int(digits, 16)
        scope, prefix = fields, ""
        if parent:
            scope = next(t for t in fields[int(parent)]["type"] if t != "null")["fields"]
            prefix = fields[int(parent)]["name"] + "."
        names |= {prefix + f["name"] for i, f in enumerate(scope) if bits >> i & 1}
    return names


async def test_update_event_carries_origin_changed_and_nulled_fields(world: World) -> None:
    account_id = world.state.create(
        "Account", {"Name": "Acme", "Website": "https://acme.test"}, world.ctx()
    )
    world.state.update("Account", account_id, {"BillingCity": "Lyon", "Website": None}, world.ctx())
    (create, _), (update, schema) = await events_of(world, "/data/AccountChangeEvent", 2)

    assert create["ChangeEventHeader"]["changeType"] == "CREATE"
    assert create["Name"] == "Acme"
    assert create["CreatedDate"] == int(NOW.timestamp() * 1000)

    header = update["ChangeEventHeader"]
    assert header["changeType"] == "UPDATE"
    assert header["recordIds"] == [account_id]
    assert header["changeOrigin"] == "com/salesforce/api/rest/59.0;client=freshforce"
    assert header["commitUser"] == world.state.admin_user_id
    assert bitmap_names(header["changedFields"], schema) == {
        "BillingAddress.City",
        "Website",
        "LastModifiedDate",
        "LastModifiedById",
    }
    assert bitmap_names(header["nulledFields"], schema) == {"Website"}
    assert update["BillingAddress"]["City"] == "Lyon"
    assert update["Name"] is None
    assert "Id" not in update
    assert "SystemModstamp" not in update


async def test_contact_name_is_a_compound_and_origin_without_client(world: World) -> None:
    world.state.create("Contact", {"FirstName": "Ada", "LastName": "Lovelace"}, world.ctx(None))
    ((body, schema),) = await events_of(world, "/data/ContactChangeEvent", 1)
    assert body["Name"]["FirstName"] == "Ada"
    assert body["Name"]["LastName"] == "Lovelace"
    assert body["ChangeEventHeader"]["changeOrigin"] == "com/salesforce/api/rest/59.0"
    assert "FirstName" not in [f["name"] for f in schema["fields"]]


async def test_all_changes_channel_and_a_custom_field_added_at_run_time(world: World) -> None:
    world.state.create("Account", {"Name": "Before"}, world.ctx())
    world.state.add_custom_field("Account", FieldSpec(name="Tier__c", type="string"))
    world.state.create("Account", {"Name": "After", "Tier__c": "Gold"}, world.ctx())
    world.state.create("Contact", {"LastName": "Hopper"}, world.ctx())
    events = await events_of(world, "/data/ChangeEvents", 3)
    (before, old_schema), (after, new_schema), (contact, _) = events
    assert "Tier__c" not in before
    assert after["Tier__c"] == "Gold"
    assert old_schema != new_schema
    assert contact["ChangeEventHeader"]["entityName"] == "Contact"
