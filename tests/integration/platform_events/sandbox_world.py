"""A Salesforce sandbox with its Pub/Sub server, reached by REST (ASGI) and gRPC (socket)."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import fastavro
import grpc
import httpx

from freshforce.proto import pubsub_api_pb2 as pb
from freshforce.proto import pubsub_api_pb2_grpc as pb_grpc
from freshforce.sandbox.core import SandboxRuntime
from freshforce.sandbox.salesforce.build import SalesforceSandbox, build_salesforce_sandbox
from freshforce.sandbox.salesforce.pubsub import PubSubControls, attach_pubsub

API = "/services/data/v59.0"


@dataclass
class SandboxWorld:
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

    async def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return await self.rest.request(
            method, API + path, json=body, headers={"Authorization": f"Bearer {self.token}"}
        )

    async def decode(self, event: pb.ConsumerEvent) -> dict[str, Any]:
        info = await self.stub.GetSchema(
            pb.SchemaRequest(schema_id=event.event.schema_id), metadata=self.metadata
        )
        parsed = fastavro.parse_schema(json.loads(info.schema_json))
        record = fastavro.schemaless_reader(io.BytesIO(event.event.payload), parsed, None)
        assert isinstance(record, dict)
        return record

    async def received(self, topic: str, count: int) -> list[dict[str, Any]]:
        """Subscribe from the earliest retained event and decode the first ``count``."""
        call = self.stub.Subscribe(metadata=self.metadata)
        await call.write(
            pb.FetchRequest(topic_name=topic, replay_preset=pb.EARLIEST, num_requested=count)
        )
        events: list[pb.ConsumerEvent] = []
        while len(events) < count:
            response = await call.read()
            assert response is not grpc.aio.EOF
            events.extend(response.events)
        call.cancel()
        return [await self.decode(event) for event in events]


@asynccontextmanager
async def sandbox_world(seed: int = 9) -> AsyncIterator[SandboxWorld]:
    runtime = SandboxRuntime.create(seed=seed)
    sandbox = build_salesforce_sandbox(runtime, seed=seed)
    runner = attach_pubsub(
        sandbox, clock=runtime.clock.now, controls=PubSubControls(keepalive_seconds=0.2)
    )
    serving = asyncio.create_task(runner.serve())
    await runner.wait_started()
    token = sandbox.sessions.mint(sandbox.state.admin_user_id).access_token
    transport = httpx.ASGITransport(app=sandbox.app)
    try:
        async with (
            httpx.AsyncClient(transport=transport, base_url="https://sandbox") as rest,
            grpc.aio.insecure_channel(runner.target) as channel,
        ):
            yield SandboxWorld(sandbox, rest, pb_grpc.PubSubStub(channel), token)
    finally:
        runner.request_stop()
        await serving
        await runtime.aclose()
