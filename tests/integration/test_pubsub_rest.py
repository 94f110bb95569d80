"""REST writes become change events: the Salesforce sandbox app and its Pub/Sub server together."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
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


@dataclass
class World:
    sandbox: SalesforceSandbox
    rest: httpx.AsyncClient
    stub: pb_grpc.PubSubStub
    token: str

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (
            ("accesstoken", self.token),
            ("instanceurl", "https://127.0.0.1"),
            ("tenantid", self.sandbox.state.org_id),
        )

    async def write(self, method: str, path: str, body: dict[str, Any]) -> httpx.Response:
        response = await self.rest.request(
            method,
            API + path,
            json=body,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Sforce-Call-Options": "client=freshforce",
            },
        )
        assert response.status_code in {200, 201, 204}, response.text
        return response


@pytest.fixture
async def world() -> AsyncIterator[World]:
    runtime = SandboxRuntime.create(seed=9)
    sandbox = build_salesforce_sandbox(runtime, seed=9)
    runner = attach_pubsub(
        sandbox, clock=runtime.clock.now, controls=PubSubControls(keepalive_seconds=0.2)
    )
    serving = asyncio.create_task(runner.serve())
    await runner.wait_started()
    token = sandbox.sessions.mint(sandbox.state.admin_user_id).access_token
    transport = httpx.ASGITransport(app=sandbox.app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="https://sandbox") as rest,
        grpc.aio.insecure_channel(runner.target) as channel,
    ):
        yield World(sandbox, rest, pb_grpc.PubSubStub(channel), token)
    runner.request_stop()
    await serving
    await runtime.aclose()


async def decode(world: World, event: Any) -> dict[str, Any]:
    info = await world.stub.GetSchema(
        pb.SchemaRequest(schema_id=event.event.schema_id), metadata=world.metadata
    )
    parsed = fastavro.parse_schema(json.loads(info.schema_json))
    return fastavro.schemaless_reader(io.BytesIO(event.event.payload), parsed, None)


async def read(call: Any, count: int) -> list[Any]:
    events: list[Any] = []
    while len(events) < count:
        events.extend((await call.read()).events)
    return events


async def test_rest_writes_arrive_and_resume_from_the_stored_replay_id(world: World) -> None:
    call = world.stub.Subscribe(metadata=world.metadata)
    await call.write(pb.FetchRequest(topic_name="/data/AccountChangeEvent", num_requested=10))
    assert not (await call.read()).events  # keepalive: subscribed before the write

    created = await world.write("POST", "/sobjects/Account/", {"Name": "Acme"})
    account_id = created.json()["id"]
    await world.write("PATCH", f"/sobjects/Account/{account_id}", {"BillingCity": "Lyon"})
    create, update = await read(call, 2)
    call.cancel()
    header = (await decode(world, update))["ChangeEventHeader"]
    assert (await decode(world, create))["ChangeEventHeader"]["changeType"] == "CREATE"
    assert header["changeType"] == "UPDATE"
    assert header["recordIds"] == [account_id]
    assert header["changeOrigin"] == "com/salesforce/api/rest/59.0;client=freshforce"
    stored = update.replay_id

    await world.write("PATCH", f"/sobjects/Account/{account_id}", {"Website": "https://a.test"})
    await world.write("POST", "/sobjects/Account/", {"Name": "Globex"})
    resumed = world.stub.Subscribe(metadata=world.metadata)
    await resumed.write(
        pb.FetchRequest(
            topic_name="/data/AccountChangeEvent",
            replay_preset=pb.CUSTOM,
            replay_id=stored,
            num_requested=10,
        )
    )
    first, second = await read(resumed, 2)
    assert (await decode(world, first))["Website"] == "https://a.test"
    assert (await decode(world, second))["Name"] == "Globex"
    extra = await resumed.read()
    assert not extra.events  # nothing repeated, nothing more
    resumed.cancel()


async def test_a_revoked_token_is_refused(world: World) -> None:
    world.sandbox.sessions.revoke(world.token)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await world.stub.GetTopic(
            pb.TopicRequest(topic_name="/data/AccountChangeEvent"), metadata=world.metadata
        )
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_pubsub_admin_is_mounted_on_the_rest_app(world: World) -> None:
    shown = await world.rest.get("/_sandbox/pubsub")
    assert shown.status_code == 200
    assert shown.json()["retention_seconds"] == 72 * 3600


async def test_the_default_platform_event_can_be_published(world: World) -> None:
    topic = "/event/Sandbox_Notice__e"
    info = await world.stub.GetTopic(pb.TopicRequest(topic_name=topic), metadata=world.metadata)
    assert info.can_publish
    schema = await world.stub.GetSchema(
        pb.SchemaRequest(schema_id=info.schema_id), metadata=world.metadata
    )
    buffer = io.BytesIO()
    notice = {"CreatedDate": 0, "CreatedById": "005", "Message__c": "hi", "Record_Id__c": None}
    fastavro.schemaless_writer(
        buffer, fastavro.parse_schema(json.loads(schema.schema_json)), notice
    )
    event = pb.ProducerEvent(id="n1", schema_id=info.schema_id, payload=buffer.getvalue())
    call = world.stub.Subscribe(metadata=world.metadata)
    await call.write(pb.FetchRequest(topic_name=topic, replay_preset=pb.EARLIEST, num_requested=1))
    published = await world.stub.Publish(
        pb.PublishRequest(topic_name=topic, events=[event]), metadata=world.metadata
    )
    assert not published.results[0].HasField("error")
    (received,) = await read(call, 1)
    assert (await decode(world, received))["Message__c"] == "hi"
    call.cancel()
