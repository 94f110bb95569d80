"""The Pub/Sub sandbox through a client built from the generated stubs, over a real socket."""

from __future__ import annotations

import io
import json
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import fastavro
import grpc
import pytest
from structlog.testing import capture_logs

from freshforce.proto import pubsub_api_pb2 as pb
from freshforce.proto import pubsub_api_pb2_grpc as pb_grpc
from freshforce.sandbox.salesforce.avro import CdcEntity, CdcField
from freshforce.sandbox.salesforce.changes import ChangeLog, ChangeRecord
from freshforce.sandbox.salesforce.pubsub import (
    PubSubControls,
    PubSubService,
    TopicRegistry,
    emit_gap,
    start_pubsub_server,
)

ORG_ID = "00D000000000001EAA"
TOKEN = "00D000000000001!sandbox-token"
ACCOUNT = CdcEntity(
    "Account",
    (
        CdcField("Name", "string"),
        CdcField(
            "BillingAddress",
            "compound",
            (
                CdcField("Street", "string", source="BillingStreet"),
                CdcField("City", "string", source="BillingCity"),
            ),
        ),
        CdcField("Website", "string"),
        CdcField("LastModifiedDate", "datetime"),
    ),
)
INVOICE = CdcEntity("Invoice__c", (CdcField("Total__c", "double"),))
AUTH = (
    ("accesstoken", TOKEN),
    ("instanceurl", "https://sandbox.my.salesforce.com"),
    ("tenantid", ORG_ID),
)


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime(2026, 1, 5, 12, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Sandbox:
    log: ChangeLog
    clock: Clock
    controls: PubSubControls
    stub: pb_grpc.PubSubStub
    commits: int = 0

    def write(self, change_type: str = "UPDATE", **fields: Any) -> ChangeRecord:
        """Commit one Account change the way the REST state records it."""
        self.commits += 1
        return self.log.append(
            ChangeRecord(
                replay_id=0,
                entity_name="Account",
                change_type=change_type,  # type: ignore[arg-type]
                record_ids=("001000000000001AAA",),
                change_origin="com/salesforce/api/rest/59.0;client=freshforce",
                transaction_key=f"tx-{self.commits}",
                sequence_number=1,
                commit_timestamp_ms=int(self.clock.now.timestamp() * 1000),
                commit_number=self.commits,
                commit_user="005000000000001AAA",
                fields=fields,
                changed_fields=tuple(fields),
            )
        )


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    log, clock = ChangeLog(), Clock()
    controls = PubSubControls(keepalive_seconds=0.2, idle_close_seconds=30)
    registry = TopicRegistry(
        log, lambda: (ACCOUNT, INVOICE), {"Order_Placed__e": (CdcField("Amount__c", "double"),)}
    )
    service = PubSubService(
        registry=registry,
        check_token={TOKEN: ORG_ID}.get,
        controls=controls,
        clock=clock,
        rng=random.Random(5),
    )
    server = await start_pubsub_server(service)
    async with grpc.aio.insecure_channel(server.target) as channel:
        yield Sandbox(log, clock, controls, pb_grpc.PubSubStub(channel))
    await server.stop(0)


def fetch(topic: str = "", preset: int = pb.LATEST, replay_id: bytes = b"", n: int = 0) -> Any:
    return pb.FetchRequest(
        topic_name=topic, replay_preset=preset, replay_id=replay_id, num_requested=n
    )


async def subscribe(sandbox: Sandbox, first: pb.FetchRequest) -> Any:
    call = sandbox.stub.Subscribe(metadata=AUTH)
    await call.write(first)
    return call


async def read_events(call: Any, count: int) -> list[Any]:
    """Read responses until ``count`` events arrived, skipping keepalives."""
    events: list[Any] = []
    while len(events) < count:
        response = await call.read()
        assert response is not grpc.aio.EOF
        events.extend(response.events)
    assert len(events) == count
    return events


async def decode(sandbox: Sandbox, event: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Decode a ConsumerEvent the way a client does: writer schema from GetSchema, no header."""
    info = await sandbox.stub.GetSchema(
        pb.SchemaRequest(schema_id=event.event.schema_id), metadata=AUTH
    )
    schema_json = json.loads(info.schema_json)
    parsed = fastavro.parse_schema(schema_json)
    return fastavro.schemaless_reader(io.BytesIO(event.event.payload), parsed, None), schema_json


def field_names(bitmap: list[str], schema_json: dict[str, Any]) -> set[str]:
    """Decode a bitmap as the reference describes it, from the schema the client received."""
    fields = schema_json["fields"]
    names: set[str] = set()
    for element in bitmap:
        parent, _, digits = element.rpartition("-")
        bits = int.from_bytes(bytes.fromhex(digits.removeprefix("0x")), "big")
        scope = fields
        prefix = ""
        if parent:
            nested = fields[int(parent)]
            scope = next(t for t in nested["type"] if t != "null")["fields"]
            prefix = nested["name"] + "."
        names |= {prefix + f["name"] for i, f in enumerate(scope) if bits >> i & 1}
    return names


async def status_of(awaitable: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await awaitable
    return caught.value


def error_code(error: grpc.aio.AioRpcError) -> str | None:
    trailers = dict(error.trailing_metadata() or ())
    assert trailers.get("rpc-id")
    return trailers.get("error-code")


async def test_receive_decode_disconnect_and_resume_without_loss(sandbox: Sandbox) -> None:
    call = await subscribe(sandbox, fetch("/data/AccountChangeEvent", n=10))
    keepalive = await call.read()  # proves the stream is live before the write
    assert list(keepalive.events) == []
    assert keepalive.pending_num_requested == 10

    sandbox.write(BillingCity="Lyon", Website=None, LastModifiedDate="2026-01-05T12:00:00.000+0000")
    (event,) = await read_events(call, 1)
    body, schema_json = await decode(sandbox, event)
    header = body["ChangeEventHeader"]
    assert header["entityName"] == "Account"
    assert header["changeType"] == "UPDATE"
    assert header["changeOrigin"] == "com/salesforce/api/rest/59.0;client=freshforce"
    assert header["recordIds"] == ["001000000000001AAA"]
    assert header["commitTimestamp"] == int(sandbox.clock.now.timestamp() * 1000)
    assert field_names(header["changedFields"], schema_json) == {
        "BillingAddress.City",
        "Website",
        "LastModifiedDate",
    }
    assert body["BillingAddress"]["City"] == "Lyon"
    assert body["Name"] is None
    stored = event.replay_id
    assert len(stored) == 8
    call.cancel()

    for name in ("one", "two", "three"):
        sandbox.write(Name=name)
    resumed = await subscribe(sandbox, fetch("/data/AccountChangeEvent", pb.CUSTOM, stored, 10))
    events = await read_events(resumed, 3)
    names = [(await decode(sandbox, e))[0]["Name"] for e in events]
    assert names == ["one", "two", "three"]
    ids = [int.from_bytes(e.replay_id, "big") for e in events]
    assert ids == sorted(ids)
    assert ids[0] > int.from_bytes(stored, "big")
    resumed.cancel()


async def test_flow_control_caps_and_counts(sandbox: Sandbox) -> None:
    for index in range(5):
        sandbox.write(Name=f"n{index}")
    call = await subscribe(sandbox, fetch("/data/ChangeEvents", pb.EARLIEST, n=2))
    first = await call.read()
    assert len(first.events) == 2
    assert first.pending_num_requested == 0
    assert first.latest_replay_id == first.events[-1].replay_id
    await call.write(fetch(n=500))  # later requests may leave the topic empty; capped at 100
    rest = await call.read()
    assert len(rest.events) == 3
    assert rest.pending_num_requested == 97
    keepalive = await call.read()
    assert list(keepalive.events) == []
    assert keepalive.latest_replay_id == rest.events[-1].replay_id
    call.cancel()


async def test_later_request_for_another_topic_is_refused(sandbox: Sandbox) -> None:
    call = await subscribe(sandbox, fetch("/data/AccountChangeEvent", n=1))
    await call.write(fetch("/data/Invoice__ChangeEvent", n=1))
    error = await status_of(read_events(call, 1))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_stream_with_nothing_requested_closes_when_idle(sandbox: Sandbox) -> None:
    sandbox.controls.idle_close_seconds = 0.3
    sandbox.controls.keepalive_seconds = 0.1
    call = await subscribe(sandbox, fetch("/data/AccountChangeEvent", n=0))
    responses = [response async for response in call]
    assert responses
    assert all(not r.events for r in responses)
    assert await call.code() == grpc.StatusCode.OK


async def test_retention_refuses_an_expired_replay_id(sandbox: Sandbox) -> None:
    old = sandbox.write(Name="old")
    sandbox.clock.now += timedelta(hours=73)
    sandbox.write(Name="new")
    before_old = (old.replay_id - 1).to_bytes(8, "big")
    call = await subscribe(sandbox, fetch("/data/AccountChangeEvent", pb.CUSTOM, before_old, 5))
    error = await status_of(call.read())
    assert error_code(error) == "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"
    assert "retention" in (error.details() or "")

    earliest = await subscribe(sandbox, fetch("/data/AccountChangeEvent", pb.EARLIEST, n=5))
    (event,) = await read_events(earliest, 1)
    assert (await decode(sandbox, event))[0]["Name"] == "new"
    earliest.cancel()


async def test_malformed_or_future_replay_ids_are_corrupted(sandbox: Sandbox) -> None:
    sandbox.write(Name="x")
    for raw in (b"\x01\x02", (99).to_bytes(8, "big")):
        call = await subscribe(sandbox, fetch("/data/ChangeEvents", pb.CUSTOM, raw, 1))
        error = await status_of(call.read())
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_code(error) == (
            "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"
        )


async def test_bad_token_is_an_auth_error_without_the_token(sandbox: Sandbox) -> None:
    bad = (("accesstoken", "stolen-secret"), AUTH[1], AUTH[2])
    error = await status_of(
        sandbox.stub.GetTopic(pb.TopicRequest(topic_name="/data/ChangeEvents"), metadata=bad)
    )
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_code(error) == "sfdc.platform.eventbus.grpc.service.auth.error"
    assert "stolen-secret" not in (error.details() or "")

    call = sandbox.stub.Subscribe(metadata=AUTH[1:])
    await call.write(fetch("/data/ChangeEvents", n=1))
    error = await status_of(call.read())
    assert error_code(error) == "sfdc.platform.eventbus.grpc.service.auth.error"
    assert "accesstoken" in (error.details() or "")


async def test_topics_and_unknown_topic(sandbox: Sandbox) -> None:
    info = await sandbox.stub.GetTopic(
        pb.TopicRequest(topic_name="/data/Invoice__ChangeEvent"), metadata=AUTH
    )
    assert info.tenant_guid == ORG_ID
    assert info.can_subscribe
    assert not info.can_publish
    schema = await sandbox.stub.GetSchema(pb.SchemaRequest(schema_id=info.schema_id), metadata=AUTH)
    assert json.loads(schema.schema_json)["name"] == "Invoice__ChangeEvent"

    error = await status_of(
        sandbox.stub.GetTopic(pb.TopicRequest(topic_name="/data/contactchangeevent"), metadata=AUTH)
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error_code(error) == "sfdc.platform.eventbus.grpc.service.topic.not.found"


async def test_gap_events_carry_only_the_header(sandbox: Sandbox) -> None:
    call = await subscribe(sandbox, fetch("/data/AccountChangeEvent", pb.EARLIEST, n=5))
    now_ms = int(sandbox.clock.now.timestamp() * 1000)
    for change_type in ("GAP_UPDATE", "GAP_OVERFLOW"):
        emit_gap(
            sandbox.log,
            entity_name="Account",
            change_type=change_type,  # type: ignore[arg-type]
            record_ids=("001000000000001AAA",),
            transaction_key="gap",
            commit_timestamp_ms=now_ms,
            commit_user="005000000000001AAA",
        )
    events = await read_events(call, 2)
    (update, _), (overflow, _) = [await decode(sandbox, e) for e in events]
    assert update["ChangeEventHeader"]["changeType"] == "GAP_UPDATE"
    assert update["ChangeEventHeader"]["recordIds"] == ["001000000000001AAA"]
    assert overflow["ChangeEventHeader"]["changeType"] == "GAP_OVERFLOW"
    assert overflow["ChangeEventHeader"]["recordIds"] == []
    for body in (update, overflow):
        assert all(v is None for k, v in body.items() if k != "ChangeEventHeader")
    call.cancel()


async def test_publish_platform_event_and_receive_it(sandbox: Sandbox) -> None:
    topic = "/event/Order_Placed__e"
    info = await sandbox.stub.GetTopic(pb.TopicRequest(topic_name=topic), metadata=AUTH)
    assert info.can_publish
    schema = await sandbox.stub.GetSchema(pb.SchemaRequest(schema_id=info.schema_id), metadata=AUTH)
    parsed = fastavro.parse_schema(json.loads(schema.schema_json))
    buffer = io.BytesIO()
    record = {"CreatedDate": 1, "CreatedById": "005000000000001AAA", "Amount__c": 12.5}
    fastavro.schemaless_writer(buffer, parsed, record)
    good = pb.ProducerEvent(id="evt-1", schema_id=info.schema_id, payload=buffer.getvalue())
    wrong = pb.ProducerEvent(id="evt-2", schema_id="nope", payload=buffer.getvalue())

    call = await subscribe(sandbox, fetch(topic, pb.EARLIEST, n=5))
    published = await sandbox.stub.Publish(
        pb.PublishRequest(topic_name=topic, events=[good, wrong]), metadata=AUTH
    )
    ok, refused = published.results
    assert ok.correlation_key == "evt-1"
    assert len(ok.replay_id) == 8
    assert not ok.HasField("error")
    assert refused.error.code == pb.PUBLISH
    (received,) = await read_events(call, 1)
    assert received.replay_id == ok.replay_id
    body = fastavro.schemaless_reader(io.BytesIO(received.event.payload), parsed, None)
    assert body == record
    call.cancel()

    error = await status_of(
        sandbox.stub.Publish(pb.PublishRequest(topic_name="/data/ChangeEvents"), metadata=AUTH)
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_injected_outage_is_unavailable(sandbox: Sandbox) -> None:
    sandbox.controls.unavailable = True
    error = await status_of(
        sandbox.stub.GetTopic(pb.TopicRequest(topic_name="/data/ChangeEvents"), metadata=AUTH)
    )
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert error_code(error) == "sfdc.platform.eventbus.grpc.service.unavailable"


async def test_publish_stream_answers_each_request(sandbox: Sandbox) -> None:
    topic = "/event/Order_Placed__e"
    info = await sandbox.stub.GetTopic(pb.TopicRequest(topic_name=topic), metadata=AUTH)
    schema = await sandbox.stub.GetSchema(pb.SchemaRequest(schema_id=info.schema_id), metadata=AUTH)
    parsed = fastavro.parse_schema(json.loads(schema.schema_json))
    call = sandbox.stub.PublishStream(metadata=AUTH)
    replay_ids = []
    for amount in (1.0, 2.0):
        buffer = io.BytesIO()
        fastavro.schemaless_writer(
            buffer, parsed, {"CreatedDate": 1, "CreatedById": "005", "Amount__c": amount}
        )
        event = pb.ProducerEvent(
            id=f"e{amount}", schema_id=info.schema_id, payload=buffer.getvalue()
        )
        await call.write(pb.PublishRequest(topic_name=topic, events=[event]))
        (result,) = (await call.read()).results
        assert result.correlation_key == f"e{amount}"
        replay_ids.append(int.from_bytes(result.replay_id, "big"))
    await call.done_writing()
    assert replay_ids == [1, 2]
    garbage = pb.ProducerEvent(id="bad", schema_id=info.schema_id, payload=b"\xff")
    refused = await sandbox.stub.Publish(
        pb.PublishRequest(topic_name=topic, events=[garbage]), metadata=AUTH
    )
    assert "does not match schema" in refused.results[0].error.msg


async def test_a_change_that_cannot_be_encoded_goes_out_as_a_gap(sandbox: Sandbox) -> None:
    sandbox.write(Name=12345)  # a number where the schema says string
    with capture_logs() as logs:
        call = await subscribe(sandbox, fetch("/data/AccountChangeEvent", pb.EARLIEST, n=1))
        (event,) = await read_events(call, 1)
    body, _ = await decode(sandbox, event)
    assert body["ChangeEventHeader"]["changeType"] == "GAP_UPDATE"
    assert body["Name"] is None
    assert [entry["event"] for entry in logs] == ["change_event_sent_as_gap"]
    assert "Account.Name" in logs[0]["error"]
    call.cancel()


async def test_an_outage_ends_open_streams_and_resume_loses_nothing(sandbox: Sandbox) -> None:
    sandbox.controls.keepalive_seconds = 30  # only the outage can end the wait
    call = await subscribe(sandbox, fetch("/data/AccountChangeEvent", pb.EARLIEST, n=10))
    sandbox.write(Name="before")
    (seen,) = await read_events(call, 1)
    sandbox.controls.unavailable = True  # no write follows: the stream must notice by itself
    error = await status_of(read_events(call, 1))
    sandbox.write(Name="during")
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert error_code(error) == "sfdc.platform.eventbus.grpc.service.unavailable"
    sandbox.controls.unavailable = False
    resumed = await subscribe(
        sandbox, fetch("/data/AccountChangeEvent", pb.CUSTOM, seen.replay_id, 10)
    )
    (event,) = await read_events(resumed, 1)
    assert (await decode(sandbox, event))[0]["Name"] == "during"
    resumed.cancel()
