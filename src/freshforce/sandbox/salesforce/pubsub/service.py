"""The ``eventbus.v1.PubSub`` servicer: GetTopic, GetSchema, Subscribe, Publish, PublishStream.

Every call is authenticated from its metadata and sweeps the retention window first. Refusals
are ``PubSubFault``s, sent as a gRPC status with ``error-code`` and ``rpc-id`` trailers.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime
from typing import NoReturn, cast

import grpc

from freshforce.proto import pubsub_api_pb2 as pb
from freshforce.proto import pubsub_api_pb2_grpc as pb_grpc
from freshforce.sandbox.salesforce.avro import EventSchema, decode_payload
from freshforce.sandbox.salesforce.pubsub.auth import Caller, TokenCheck, authenticate
from freshforce.sandbox.salesforce.pubsub.controls import PubSubControls
from freshforce.sandbox.salesforce.pubsub.faults import (
    INVALID_REQUEST,
    PUBLISH_NOT_ALLOWED,
    SCHEMA_NOT_FOUND,
    TOPIC_NOT_FOUND,
    PubSubFault,
    service_unavailable,
)
from freshforce.sandbox.salesforce.pubsub.replay import encode_replay_id, start_after
from freshforce.sandbox.salesforce.pubsub.subscription import Subscription
from freshforce.sandbox.salesforce.pubsub.topics import (
    ChangeEventTopic,
    PlatformEventTopic,
    TopicRegistry,
)

__all__ = ["PubSubService"]

Context = grpc.aio.ServicerContext[object, object]
AnyTopic = ChangeEventTopic | PlatformEventTopic


async def _abort(context: Context, fault: PubSubFault, rpc_id: str) -> NoReturn:
    trailers = (("error-code", fault.error_code), ("rpc-id", rpc_id))
    await context.abort(fault.status, f"{fault.message} rpcId: {rpc_id}", trailers)


async def _read_more(
    requests: AsyncIterator[pb.FetchRequest], subscription: Subscription, topic_name: str
) -> None:
    """Feed later FetchRequests into the subscription; only the first one chose the topic."""
    async for request in requests:
        if request.topic_name and request.topic_name != topic_name:
            subscription.fail(
                PubSubFault(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    INVALID_REQUEST,
                    f"this stream subscribes to {topic_name}, not {request.topic_name}",
                )
            )
            return
        try:
            subscription.request(request.num_requested)
        except PubSubFault as fault:
            subscription.fail(fault)
            return


class PubSubService(pb_grpc.PubSubServicer):
    """The Pub/Sub API over the sandbox's topics, authenticated by the REST state's tokens."""

    def __init__(
        self,
        *,
        registry: TopicRegistry,
        check_token: TokenCheck,
        controls: PubSubControls,
        clock: Callable[[], datetime],
        rng: random.Random,
    ) -> None:
        self._registry = registry
        self._check_token = check_token
        self._controls = controls
        self._clock = clock
        self._rng = rng

    def _rpc_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _now_ms(self) -> int:
        return int(self._clock().timestamp() * 1000)

    def _admit(self, context: Context) -> Caller:
        """Refuse the call during an injected outage or without valid auth; sweep retention."""
        if self._controls.unavailable:
            raise service_unavailable()
        # The stubs call it a Mapping; grpc.aio hands the server (key, value) pairs.
        metadata = cast("Iterable[tuple[str, str | bytes]]", context.invocation_metadata() or ())
        caller = authenticate(metadata, self._check_token)
        retention_ms = int(self._controls.retention.total_seconds() * 1000)
        self._registry.expire(self._now_ms() - retention_ms)
        return caller

    def _topic(self, name: str, caller: Caller) -> AnyTopic:
        topic = self._registry.topic(name)
        if topic is None:
            raise PubSubFault(
                grpc.StatusCode.NOT_FOUND,
                TOPIC_NOT_FOUND,
                f"The topic information for org {caller.org_id} and topic {name or '(empty)'}"
                " not found. Ensure the topic name is correct and that the topic exists.",
            )
        return topic

    def _schema(self, schema_id: str) -> EventSchema:
        schema = self._registry.schema(schema_id)
        if schema is None:
            raise PubSubFault(
                grpc.StatusCode.NOT_FOUND,
                SCHEMA_NOT_FOUND,
                f"schema {schema_id or '(empty)'} not found",
            )
        return schema

    async def GetTopic(self, request: pb.TopicRequest, context: Context) -> pb.TopicInfo:  # noqa: N802 - the proto's method name
        rpc_id = self._rpc_id()
        try:
            caller = self._admit(context)
            topic = self._topic(request.topic_name, caller)
        except PubSubFault as fault:
            await _abort(context, fault, rpc_id)
        return pb.TopicInfo(
            topic_name=topic.name,
            tenant_guid=caller.org_id,
            can_publish=topic.can_publish,
            can_subscribe=True,
            schema_id=topic.schema_id,
            rpc_id=rpc_id,
        )

    async def GetSchema(self, request: pb.SchemaRequest, context: Context) -> pb.SchemaInfo:  # noqa: N802 - the proto's method name
        rpc_id = self._rpc_id()
        try:
            self._admit(context)
            schema = self._schema(request.schema_id)
        except PubSubFault as fault:
            await _abort(context, fault, rpc_id)
        return pb.SchemaInfo(
            schema_json=schema.schema_json, schema_id=schema.schema_id, rpc_id=rpc_id
        )

    async def Subscribe(  # noqa: N802 - the proto's method name
        self, request_iterator: AsyncIterator[pb.FetchRequest], context: Context
    ) -> AsyncIterator[pb.FetchResponse]:
        rpc_id = self._rpc_id()
        reader: asyncio.Task[None] | None = None
        try:
            caller = self._admit(context)
            first = await anext(aiter(request_iterator), None)
            if first is None:
                return
            topic = self._topic(first.topic_name, caller)
            after = start_after(
                first.replay_preset,
                first.replay_id,
                topic.oldest_replay_id(),
                topic.latest_replay_id(),
            )
            subscription = Subscription(topic, after, rpc_id, self._controls)
            subscription.request(first.num_requested)
            reader = asyncio.create_task(_read_more(request_iterator, subscription, topic.name))
            async for response in subscription.responses():
                yield response
        except PubSubFault as fault:
            await _abort(context, fault, rpc_id)
        finally:
            if reader is not None:
                reader.cancel()

    def _publish_one(self, topic: PlatformEventTopic, event: pb.ProducerEvent) -> pb.PublishResult:
        key = event.id or self._rpc_id()
        if event.schema_id != topic.schema_id:
            message = f"schema id {event.schema_id!r} is not {topic.name}'s ({topic.schema_id})"
            return pb.PublishResult(
                error=pb.Error(code=pb.PUBLISH, msg=message), correlation_key=key
            )
        try:
            decode_payload(topic.schema, event.payload)
        except (ValueError, TypeError) as exc:
            return pb.PublishResult(
                error=pb.Error(code=pb.PUBLISH, msg=str(exc)), correlation_key=key
            )
        stored = pb.ProducerEvent(
            id=key, schema_id=event.schema_id, payload=event.payload, headers=event.headers
        )
        replay_id = topic.publish(stored, self._now_ms())
        return pb.PublishResult(replay_id=encode_replay_id(replay_id), correlation_key=key)

    def _publish(
        self, request: pb.PublishRequest, caller: Caller, rpc_id: str
    ) -> pb.PublishResponse:
        topic = self._topic(request.topic_name, caller)
        if not isinstance(topic, PlatformEventTopic):
            raise PubSubFault(
                grpc.StatusCode.PERMISSION_DENIED,
                PUBLISH_NOT_ALLOWED,
                f"{topic.name} is a change event topic; only /event/<Name>__e topics take events",
            )
        results = [self._publish_one(topic, event) for event in request.events]
        return pb.PublishResponse(results=results, schema_id=topic.schema_id, rpc_id=rpc_id)

    async def Publish(self, request: pb.PublishRequest, context: Context) -> pb.PublishResponse:  # noqa: N802 - the proto's method name
        rpc_id = self._rpc_id()
        try:
            return self._publish(request, self._admit(context), rpc_id)
        except PubSubFault as fault:
            await _abort(context, fault, rpc_id)

    async def PublishStream(  # noqa: N802 - the proto's method name
        self, request_iterator: AsyncIterator[pb.PublishRequest], context: Context
    ) -> AsyncIterator[pb.PublishResponse]:
        rpc_id = self._rpc_id()
        try:
            caller = self._admit(context)
            async for request in request_iterator:
                yield self._publish(request, caller, rpc_id)
        except PubSubFault as fault:
            await _abort(context, fault, rpc_id)
