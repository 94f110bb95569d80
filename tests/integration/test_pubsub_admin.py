"""The /_sandbox/pubsub admin routes, seen by a Pub/Sub client over TLS."""

from __future__ import annotations

import io
import json
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro
import grpc
import httpx
import pytest
from fastapi import FastAPI

from freshforce.proto import pubsub_api_pb2 as pb
from freshforce.proto import pubsub_api_pb2_grpc as pb_grpc
from freshforce.sandbox.core.clock import SandboxClock
from freshforce.sandbox.core.tls import generate_certificate
from freshforce.sandbox.salesforce.cdc_entities import CatalogEntities
from freshforce.sandbox.salesforce.pubsub import (
    PubSubControls,
    PubSubService,
    TopicRegistry,
    pubsub_admin_router,
    start_pubsub_server,
)
from freshforce.sandbox.salesforce.state import SalesforceState, WriteContext

TOKEN = "sandbox-token"


@dataclass
class World:
    state: SalesforceState
    clock: SandboxClock
    admin: httpx.AsyncClient
    stub: pb_grpc.PubSubStub
    metadata: tuple[tuple[str, str], ...]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    clock = SandboxClock()
    state = SalesforceState(clock=clock.now, rng=random.Random(1))
    controls = PubSubControls(keepalive_seconds=0.2)
    registry = TopicRegistry(state.changes, CatalogEntities(state.catalog), {})
    service = PubSubService(
        registry=registry,
        check_token={TOKEN: state.org_id}.get,
        controls=controls,
        clock=clock.now,
        rng=random.Random(2),
    )
    tls = generate_certificate(tmp_path)
    server = await start_pubsub_server(
        service, host="localhost", tls=(tls.key.read_bytes(), tls.cert.read_bytes())
    )
    app = FastAPI()
    app.include_router(
        pubsub_admin_router(
            controls=controls,
            log=state.changes,
            registry=registry,
            clock=clock.now,
            commit_user=lambda: state.admin_user_id,
            rng=random.Random(3),
        )
    )
    credentials = grpc.ssl_channel_credentials(root_certificates=tls.cert.read_bytes())
    metadata = (("accesstoken", TOKEN), ("instanceurl", "https://x"), ("tenantid", state.org_id))
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://sandbox") as admin,
        grpc.aio.secure_channel(server.target, credentials) as channel,
    ):
        yield World(state, clock, admin, pb_grpc.PubSubStub(channel), metadata)
    await server.stop(0)


async def first_event(world: World, request: Any) -> dict[str, Any]:
    call = world.stub.Subscribe(metadata=world.metadata)
    await call.write(request)
    while not (response := await call.read()).events:
        pass
    call.cancel()
    event = response.events[0].event
    info = await world.stub.GetSchema(
        pb.SchemaRequest(schema_id=event.schema_id), metadata=world.metadata
    )
    parsed = fastavro.parse_schema(json.loads(info.schema_json))
    return fastavro.schemaless_reader(io.BytesIO(event.payload), parsed, None)


async def test_gap_on_demand_reaches_a_tls_subscriber(world: World) -> None:
    account = world.state.create(
        "Account", {"Name": "Acme"}, WriteContext(user_id=world.state.admin_user_id)
    )
    answer = await world.admin.post(
        "/_sandbox/pubsub/gaps", json={"entity": "Account", "record_ids": [account]}
    )
    assert answer.status_code == 201
    replay_id = answer.json()["replay_id"]
    after_create = (replay_id - 1).to_bytes(8, "big")
    body = await first_event(
        world,
        pb.FetchRequest(
            topic_name="/data/AccountChangeEvent",
            replay_preset=pb.CUSTOM,
            replay_id=after_create,
            num_requested=1,
        ),
    )
    assert body["ChangeEventHeader"]["changeType"] == "GAP_UPDATE"
    assert body["ChangeEventHeader"]["recordIds"] == [account]
    assert body["Name"] is None

    unknown = await world.admin.post("/_sandbox/pubsub/gaps", json={"entity": "Nope"})
    assert unknown.status_code == 404
    no_ids = await world.admin.post("/_sandbox/pubsub/gaps", json={"entity": "Account"})
    assert no_ids.status_code == 422
    assert "record id" in no_ids.text


async def test_retention_set_at_run_time_expires_old_replay_ids(world: World) -> None:
    ctx = WriteContext(user_id=world.state.admin_user_id)
    old = world.state.create("Account", {"Name": "Old"}, ctx)
    changed = await world.admin.put("/_sandbox/pubsub", json={"retention_seconds": 3600})
    assert changed.json()["retention_seconds"] == 3600
    world.clock.advance(7200)
    world.state.create("Account", {"Name": "New"}, ctx)

    call = world.stub.Subscribe(metadata=world.metadata)
    await call.write(
        pb.FetchRequest(
            topic_name="/data/ChangeEvents",
            replay_preset=pb.CUSTOM,
            replay_id=(0).to_bytes(8, "big"),
            num_requested=5,
        )
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call.read()
    trailers = dict(caught.value.trailing_metadata() or ())
    assert trailers["error-code"] == (
        "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"
    )
    shown = (await world.admin.get("/_sandbox/pubsub")).json()
    assert shown["oldest_replay_id"] == shown["latest_replay_id"]
    body = await first_event(
        world,
        pb.FetchRequest(
            topic_name="/data/ChangeEvents", replay_preset=pb.EARLIEST, num_requested=1
        ),
    )
    assert body["Name"] == "New"
    assert old not in body["ChangeEventHeader"]["recordIds"]


async def test_outage_switch(world: World) -> None:
    await world.admin.put("/_sandbox/pubsub", json={"unavailable": True})
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await world.stub.GetTopic(
            pb.TopicRequest(topic_name="/data/ChangeEvents"), metadata=world.metadata
        )
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    await world.admin.put("/_sandbox/pubsub", json={"unavailable": False})
    info = await world.stub.GetTopic(
        pb.TopicRequest(topic_name="/data/ChangeEvents"), metadata=world.metadata
    )
    assert info.can_subscribe
    bad = await world.admin.put("/_sandbox/pubsub", json={"retention_seconds": -1})
    assert bad.status_code == 422
