"""Pub/Sub API client: subscribe a topic and receive decoded events, batch by batch; publish.

A plain API client: it authenticates each call with the metadata ``auth`` returns, fetches and
caches writer schemas, decodes Avro payloads, and keeps flow control (the next ``FetchRequest``
is written only after the caller has handled the batch it was given, so a caller that stores
each batch before asking for more loses nothing on a crash). It knows no store, jobs or leases;
``freshforce.intake.cdc`` turns its batches into events and jobs. ``subscribe`` decodes change
events, ``subscribe_events`` platform events; ``publish`` sends platform events with ``Publish``.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, cast

import grpc

from freshforce.connectors.oauth import TokenSource
from freshforce.connectors.salesforce.cdc_decode import ChangeEvent, SchemaCache, decode_event
from freshforce.connectors.salesforce.platform_events import (
    PlatformEvent,
    PublishOutcome,
    ReceivedEvents,
    decode_platform_event,
    encode_platform_event,
)
from freshforce.proto import pubsub_api_pb2 as pb
from freshforce.proto import pubsub_api_pb2_grpc as pb_grpc

__all__ = [
    "AUTH_ERROR",
    "REPLAY_CORRUPTED",
    "AuthMetadata",
    "PubSubClient",
    "Received",
    "Refresh",
    "error_code",
    "status_code",
    "token_metadata",
]

# (metadata pairs for the call, a token version to hand back when the token was refused)
AuthMetadata = Callable[[], Awaitable[tuple[tuple[tuple[str, str], ...], int]]]
Refresh = Callable[[int], Awaitable[object]]

REPLAY_CORRUPTED = "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"
AUTH_ERROR = "sfdc.platform.eventbus.grpc.service.auth.error"


@dataclass(frozen=True)
class Received:
    """One ``FetchResponse``: its decoded events and the position after them."""

    events: tuple[ChangeEvent, ...]
    latest_replay_id: bytes

    @property
    def position(self) -> str | None:
        """Return the replay id to resume after this batch (base64), or ``None`` without one."""
        replay = self.events[-1].replay_id if self.events else self.latest_replay_id
        return base64.b64encode(replay).decode() if replay else None


class PubSubClient:
    """Subscribes topics of one org over the Pub/Sub API."""

    def __init__(self, stub: pb_grpc.PubSubStub, auth: AuthMetadata, refresh: Refresh) -> None:
        self.stub = stub
        self._auth = auth
        self._refresh = refresh
        self._version = 0
        self.schemas = SchemaCache(self._fetch_schema)
        self._topic_schemas: dict[str, str] = {}

    async def refresh_auth(self) -> None:
        """Refresh the token that the server refused."""
        await self._refresh(self._version)

    async def subscribe(
        self, topic: str, position: str, batch: int
    ) -> AsyncGenerator[Received, None]:
        """Yield batches from ``position`` (``EARLIEST``, ``LATEST`` or a base64 replay id).

        Ends when the server closes the stream; gRPC errors propagate.
        """
        async with aclosing(self._responses(topic, position, batch)) as responses:
            async for response in responses:
                yield await self._decode(response)

    async def subscribe_events(
        self, topic: str, position: str, batch: int
    ) -> AsyncGenerator[ReceivedEvents, None]:
        """Yield batches of platform events (``/event/<Name>__e``) as ``subscribe`` does."""
        async with aclosing(self._responses(topic, position, batch)) as responses:
            async for response in responses:
                decoded: list[PlatformEvent] = []
                for item in response.events:
                    schema, _fields = await self.schemas.get(item.event.schema_id)
                    event = decode_platform_event(
                        item.event.payload, item.replay_id, item.event.id, schema
                    )
                    decoded.append(event)
                yield ReceivedEvents(tuple(decoded), bytes(response.latest_replay_id))

    async def publish(
        self, topic: str, records: Sequence[tuple[str, Mapping[str, object]]], *, now_ms: int
    ) -> list[PublishOutcome]:
        """Publish ``(correlation key, field values)`` records to ``topic``; one outcome each."""
        schema_id = self._topic_schemas.get(topic)
        if schema_id is None:
            info = await self.stub.GetTopic(
                pb.TopicRequest(topic_name=topic), metadata=await self._metadata()
            )
            schema_id = self._topic_schemas[topic] = str(info.schema_id)
        schema, fields = await self.schemas.get(schema_id)
        events = [
            pb.ProducerEvent(
                id=key,
                schema_id=schema_id,
                payload=encode_platform_event(schema, fields, values, created_ms=now_ms),
            )
            for key, values in records
        ]
        request = pb.PublishRequest(topic_name=topic, events=events)
        response = await self.stub.Publish(request, metadata=await self._metadata())
        return [
            PublishOutcome(
                correlation_key=str(result.correlation_key),
                replay_id=bytes(result.replay_id),
                error=str(result.error.msg) if result.HasField("error") else "",
            )
            for result in response.results
        ]

    async def _responses(
        self, topic: str, position: str, batch: int
    ) -> AsyncGenerator[Any, None]:  # a generated FetchResponse
        call = self.stub.Subscribe(metadata=await self._metadata())
        try:
            if not await _write(call, _first_request(topic, position, batch)):
                return
            while True:
                response = await call.read()
                if response is grpc.aio.EOF:  # type: ignore[attr-defined]  # not in the stubs
                    return
                yield response
                if response.pending_num_requested == 0 and not await _write(
                    call, pb.FetchRequest(num_requested=batch)
                ):
                    return
        finally:
            call.cancel()  # a no-op on a finished call; closes an abandoned one at once

    async def _decode(self, response: Any) -> Received:  # noqa: ANN401 - a generated FetchResponse
        decoded: list[ChangeEvent] = []
        for item in response.events:
            schema, fields = await self.schemas.get(item.event.schema_id)
            decoded.append(decode_event(item.event.payload, item.replay_id, schema, fields))
        return Received(tuple(decoded), bytes(response.latest_replay_id))

    async def _metadata(self) -> tuple[tuple[str, str], ...]:
        metadata, self._version = await self._auth()
        return metadata

    async def _fetch_schema(self, schema_id: str) -> str:
        request = pb.SchemaRequest(schema_id=schema_id)
        info = await self.stub.GetSchema(request, metadata=await self._metadata())
        return str(info.schema_json)


def token_metadata(source: TokenSource, instance_url: str, org_id: str) -> AuthMetadata:
    """Return the call metadata Pub/Sub wants (token, instance URL, org id) from ``source``."""

    async def metadata() -> tuple[tuple[tuple[str, str], ...], int]:
        token, version = await source.current()
        pairs = (
            ("accesstoken", token.get_secret_value()),
            ("instanceurl", instance_url),
            ("tenantid", org_id),
        )
        return pairs, version

    return metadata


def _first_request(topic: str, position: str, batch: int) -> pb.FetchRequest:
    if position in {"EARLIEST", "LATEST"}:
        preset = pb.EARLIEST if position == "EARLIEST" else pb.LATEST
        return pb.FetchRequest(topic_name=topic, replay_preset=preset, num_requested=batch)
    return pb.FetchRequest(
        topic_name=topic,
        replay_preset=pb.CUSTOM,
        replay_id=base64.b64decode(position),
        num_requested=batch,
    )


def status_code(error: BaseException) -> grpc.StatusCode | None:
    """Return the gRPC status of ``error``, or ``None`` when it is no gRPC error."""
    return error.code() if isinstance(error, grpc.aio.AioRpcError) else None


def error_code(error: BaseException) -> str | None:
    """Return Salesforce's ``error-code`` trailer of a gRPC error, if any."""
    if not isinstance(error, grpc.aio.AioRpcError):
        return None
    # grpc.aio hands trailers as (key, value) pairs; the stubs call them metadata objects.
    pairs = cast("Iterable[tuple[str, str | bytes]]", error.trailing_metadata() or ())
    for key, value in pairs:
        if key.lower() == "error-code":
            return value if isinstance(value, str) else value.decode()
    return None


async def _write(call: Any, request: Any) -> bool:  # noqa: ANN401 - a generated stream call
    """Write ``request`` on the stream; ``False`` when the server had closed it with OK.

    A server that ends the stream (an outage, ``UNAVAILABLE``) while the next ``FetchRequest`` is
    written makes gRPC raise ``InvalidStateError("RPC already finished")``; the call's own status
    is raised instead (``AioRpcError``), so the subscriber backs off and resubscribes as after
    any dropped stream.
    """
    try:
        await call.write(request)
    except asyncio.InvalidStateError:
        await call.read()  # a finished call raises its error status here; OK gives EOF
        return False
    return True
