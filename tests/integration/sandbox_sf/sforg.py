"""The handles Salesforce sandbox tests work with: in process, over TLS, with Pub/Sub beside."""

from __future__ import annotations

import asyncio
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro
import httpx
from simple_salesforce import Salesforce

from freshforce.proto import pubsub_api_pb2 as pb
from freshforce.proto import pubsub_api_pb2_grpc as pb_grpc
from freshforce.sandbox.core import SandboxRuntime
from freshforce.sandbox.salesforce.build import SalesforceSandbox

API = "/services/data/v59.0"


@dataclass
class Org:
    """A sandbox org and an authenticated client talking to it in process."""

    sandbox: SalesforceSandbox
    runtime: SandboxRuntime
    http: httpx.AsyncClient
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def create(self, name: str, body: dict[str, object]) -> str:
        response = await self.http.post(f"{API}/sobjects/{name}", json=body, headers=self.headers)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def get(self, path: str, **params: str) -> httpx.Response:
        return await self.http.get(f"{API}/{path}", params=params, headers=self.headers)

    async def query(self, soql: str, *, everything: bool = False) -> dict[str, object]:
        resource = "queryAll" if everything else "query"
        response = await self.get(resource, q=soql)
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body

    async def admin_token(self, user: str | None = None) -> str:
        response = await self.http.post("/_sandbox/tokens", json={"user": user})
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])


@dataclass
class TlsOrg:
    """A sandbox org served over TLS on a free local port, with its CA file."""

    sandbox: SalesforceSandbox
    url: str
    ca_file: Path
    token: str


@dataclass
class LiveOrg:
    """A multi-currency org over TLS on a real socket, with its Pub/Sub server beside it.

    ``sf`` is an unmodified simple-salesforce client; ``stub`` a client generated from
    Salesforce's Pub/Sub proto; ``admin`` an httpx client for the ``/_sandbox`` API.
    """

    sandbox: SalesforceSandbox
    sf: Salesforce
    stub: pb_grpc.PubSubStub
    admin: httpx.Client
    token: str

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (
            ("accesstoken", self.token),
            ("instanceurl", "https://127.0.0.1"),
            ("tenantid", self.sandbox.state.org_id),
        )

    async def events(self, topic: str, count: int) -> list[dict[str, Any]]:
        """Subscribe from the earliest event and decode the first ``count`` events of ``topic``."""
        call = self.stub.Subscribe(metadata=self.metadata)
        await call.write(
            pb.FetchRequest(topic_name=topic, replay_preset=pb.EARLIEST, num_requested=count)
        )
        received: list[Any] = []
        while len(received) < count:
            received.extend((await asyncio.wait_for(call.read(), timeout=10)).events)
        call.cancel()
        decoded = []
        for event in received:
            info = await self.stub.GetSchema(
                pb.SchemaRequest(schema_id=event.event.schema_id), metadata=self.metadata
            )
            schema = fastavro.parse_schema(json.loads(info.schema_json))
            decoded.append(
                fastavro.schemaless_reader(io.BytesIO(event.event.payload), schema, None)
            )
        return decoded
