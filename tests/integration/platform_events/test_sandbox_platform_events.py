"""The Salesforce sandbox's platform events: definitions, REST and Pub/Sub publishing, describe."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator

import fastavro
import grpc
import pytest

from freshforce.proto import pubsub_api_pb2 as pb

from .sandbox_world import SandboxWorld, sandbox_world

REQUEST = "FreshBooks_Sync_Request__e"


@pytest.fixture
async def world() -> AsyncIterator[SandboxWorld]:
    async with sandbox_world() as built:
        yield built


async def test_seeded_events_are_described_and_have_topics(world: SandboxWorld) -> None:
    listed = (await world.call("GET", "/sobjects")).json()["sobjects"]
    names = {entry["name"] for entry in listed}
    assert {REQUEST, "FreshBooks_Invoice_Event__e", "FreshBooks_Payment_Event__e"} <= names
    assert "FreshForce_Sync_Error__e" in names
    described = (await world.call("GET", f"/sobjects/{REQUEST}/describe")).json()
    fields = {f["name"] for f in described["fields"]}
    assert {"Record_Id__c", "Action__c", "Requested_By__c", "ReplayId", "EventUuid"} <= fields
    assert described["queryable"] is False
    info = await world.stub.GetTopic(
        pb.TopicRequest(topic_name=f"/event/{REQUEST}"), metadata=world.metadata
    )
    assert info.can_publish
    assert info.can_subscribe
    schema = await world.stub.GetSchema(
        pb.SchemaRequest(schema_id=info.schema_id), metadata=world.metadata
    )
    assert "Action__c" in {f["name"] for f in json.loads(schema.schema_json)["fields"]}


async def test_rest_publish_reaches_a_subscriber(world: SandboxWorld) -> None:
    body = {"Record_Id__c": "006000000000001AAA", "Action__c": "invoice"}
    published = await world.call("POST", f"/sobjects/{REQUEST}/", body)
    assert published.status_code == 201, published.text
    assert published.json()["success"] is True
    assert published.json()["id"].startswith("e00")
    (event,) = await world.received(f"/event/{REQUEST}", 1)
    assert event["Action__c"] == "invoice"
    assert event["Record_Id__c"] == "006000000000001AAA"
    assert event["Requested_By__c"] is None
    assert event["CreatedById"] == world.sandbox.state.admin_user_id


async def test_rest_publish_refuses_an_unknown_field(world: SandboxWorld) -> None:
    refused = await world.call("POST", f"/sobjects/{REQUEST}/", {"Nope__c": "x"})
    assert refused.status_code == 400
    assert refused.json()[0]["errorCode"] == "INVALID_FIELD"
    assert "Nope__c" in refused.json()[0]["message"]
    wrong_type = await world.call("POST", f"/sobjects/{REQUEST}/", {"Action__c": 5})
    assert wrong_type.status_code == 400
    assert "Action__c" in wrong_type.json()[0]["message"]
    topic = world.sandbox.state.platform_events.topic(f"/event/{REQUEST}")
    assert topic is not None
    assert topic.latest_replay_id() == 0


async def test_events_in_a_rolled_back_composite_are_not_published(world: SandboxWorld) -> None:
    def sub(ref: str, url: str, body: object) -> dict[str, object]:
        return {
            "method": "POST",
            "url": f"/services/data/v59.0{url}",
            "referenceId": ref,
            "body": body,
        }

    failing = {
        "allOrNone": True,
        "compositeRequest": [
            sub("ev", f"/sobjects/{REQUEST}", {"Action__c": "sync", "Record_Id__c": "a"}),
            sub("bad", "/sobjects/Account", {"NoSuchField__c": 1}),
        ],
    }
    assert (await world.call("POST", "/composite", failing)).status_code == 200
    passing = {
        "allOrNone": True,
        "compositeRequest": [
            sub("ev", f"/sobjects/{REQUEST}", {"Action__c": "sync", "Record_Id__c": "b"}),
        ],
    }
    answered = (await world.call("POST", "/composite", passing)).json()
    assert answered["compositeResponse"][0]["httpStatusCode"] == 201
    collection = {
        "allOrNone": False,
        "records": [{"attributes": {"type": REQUEST}, "Action__c": "sync", "Record_Id__c": "c"}],
    }
    created = (await world.call("POST", "/composite/sobjects", collection)).json()
    assert created[0]["success"] is True
    events = await world.received(f"/event/{REQUEST}", 2)
    assert [e["Record_Id__c"] for e in events] == ["b", "c"]


async def test_admin_defines_an_event_published_over_pubsub(world: SandboxWorld) -> None:
    body = {
        "name": "Order_Shipped__e",
        "label": "Order Shipped",
        "fields": [{"name": "Order_Id__c"}, {"name": "Weight__c", "type": "double"}],
    }
    defined = await world.rest.post("/_sandbox/salesforce/platform-events", json=body)
    assert defined.status_code == 201, defined.text
    assert defined.json()["topic"] == "/event/Order_Shipped__e"
    bad = await world.rest.post("/_sandbox/salesforce/platform-events", json={"name": "NoSuffix"})
    assert bad.status_code == 422
    topic = "/event/Order_Shipped__e"
    info = await world.stub.GetTopic(pb.TopicRequest(topic_name=topic), metadata=world.metadata)
    schema = await world.stub.GetSchema(
        pb.SchemaRequest(schema_id=info.schema_id), metadata=world.metadata
    )
    buffer = io.BytesIO()
    record = {"CreatedDate": 0, "CreatedById": "005", "Order_Id__c": "801x", "Weight__c": 2.5}
    fastavro.schemaless_writer(
        buffer, fastavro.parse_schema(json.loads(schema.schema_json)), record
    )
    good = pb.ProducerEvent(id="k1", schema_id=info.schema_id, payload=buffer.getvalue())
    garbage = pb.ProducerEvent(id="k2", schema_id=info.schema_id, payload=b"\xff\xff")
    answer = await world.stub.Publish(
        pb.PublishRequest(topic_name=topic, events=[good, garbage]), metadata=world.metadata
    )
    first, second = answer.results
    assert int.from_bytes(first.replay_id, "big") == 1
    assert first.correlation_key == "k1"
    assert second.HasField("error")
    (event,) = await world.received(topic, 1)
    assert event["Weight__c"] == 2.5


async def test_change_event_topics_still_refuse_publishing(world: SandboxWorld) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await world.stub.Publish(
            pb.PublishRequest(topic_name="/data/AccountChangeEvent"), metadata=world.metadata
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
