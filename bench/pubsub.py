"""Pub/Sub sandbox benchmark: CDC cost per write, delivery throughput and write-to-event latency.

Everything runs in-process on 127.0.0.1 with a client built from the generated stubs.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from datetime import UTC, datetime

import grpc

from freshforce.proto import pubsub_api_pb2 as pb
from freshforce.proto import pubsub_api_pb2_grpc as pb_grpc
from freshforce.sandbox.salesforce.cdc_entities import CatalogEntities
from freshforce.sandbox.salesforce.pubsub import (
    PubSubControls,
    PubSubService,
    TopicRegistry,
    start_pubsub_server,
)
from freshforce.sandbox.salesforce.state import SalesforceState, WriteContext

WRITES = 1_000
LATENCY_SAMPLES = 200
TOKEN = "bench-token"  # noqa: S105 - a sandbox token made up for the run


def _now() -> datetime:
    return datetime.now(UTC)


def _state(cdc: bool) -> tuple[SalesforceState, TopicRegistry | None]:
    state = SalesforceState(clock=_now, rng=random.Random(1))
    registry = TopicRegistry(state.changes, CatalogEntities(state.catalog), {}) if cdc else None
    return state, registry


def _writes_per_second(cdc: bool) -> float:
    state, _ = _state(cdc)
    ctx = WriteContext(user_id=state.admin_user_id, client="freshforce")
    start = time.perf_counter()
    for index in range(WRITES):
        state.create("Account", {"Name": f"Account {index}", "BillingCity": "Lyon"}, ctx)
    return WRITES / (time.perf_counter() - start)


async def _delivery(state: SalesforceState, stub: pb_grpc.PubSubStub, meta: object) -> float:
    ctx = WriteContext(user_id=state.admin_user_id)
    for index in range(WRITES):
        state.create("Account", {"Name": f"Backlog {index}"}, ctx)
    call = stub.Subscribe(metadata=meta)
    start = time.perf_counter()
    await call.write(pb.FetchRequest(topic_name="/data/ChangeEvents", replay_preset=pb.EARLIEST))
    received = 0
    while received < WRITES:
        await call.write(pb.FetchRequest(num_requested=100))
        while True:
            response = await call.read()
            received += len(response.events)
            if response.pending_num_requested == 0:
                break
    elapsed = time.perf_counter() - start
    call.cancel()
    return WRITES / elapsed


async def _latencies(state: SalesforceState, stub: pb_grpc.PubSubStub, meta: object) -> list[float]:
    ctx = WriteContext(user_id=state.admin_user_id)
    call = stub.Subscribe(metadata=meta)
    await call.write(pb.FetchRequest(topic_name="/data/AccountChangeEvent", num_requested=100))
    await call.read()  # keepalive: the subscription is live
    samples = []
    for index in range(LATENCY_SAMPLES):
        if index % 100 == 99:  # re-request before the window runs out
            await call.write(pb.FetchRequest(num_requested=100))
        start = time.perf_counter()
        state.create("Account", {"Name": f"Latency {index}"}, ctx)
        while not (await call.read()).events:
            pass
        samples.append((time.perf_counter() - start) * 1000)
    call.cancel()
    return samples


async def _grpc_rows() -> tuple[float, list[float]]:
    state, registry = _state(cdc=True)
    assert registry is not None  # noqa: S101 - built with cdc=True
    service = PubSubService(
        registry=registry,
        check_token={TOKEN: state.org_id}.get,
        controls=PubSubControls(keepalive_seconds=0.05),
        clock=_now,
        rng=random.Random(2),
    )
    server = await start_pubsub_server(service)
    meta = (("accesstoken", TOKEN), ("instanceurl", "https://x"), ("tenantid", state.org_id))
    async with grpc.aio.insecure_channel(server.target) as channel:
        stub = pb_grpc.PubSubStub(channel)
        throughput = await _delivery(state, stub, meta)
        latencies = await _latencies(state, stub, meta)
    await server.stop(0)
    return throughput, latencies


def main() -> None:
    without = _writes_per_second(cdc=False)
    with_cdc = _writes_per_second(cdc=True)
    throughput, latencies = asyncio.run(_grpc_rows())
    p50 = statistics.median(latencies)
    p95 = statistics.quantiles(latencies, n=20)[-1]
    print(f"{'measure':<44} {'value':>12}")
    print(f"{'state creates/s, CDC off':<44} {without:>12,.0f}")
    print(f"{'state creates/s, CDC on':<44} {with_cdc:>12,.0f}")
    print(f"{'events/s encoded+delivered (100 per request)':<44} {throughput:>12,.0f}")
    print(f"{'write -> event p50 ms':<44} {p50:>12.2f}")
    print(f"{'write -> event p95 ms':<44} {p95:>12.2f}")


if __name__ == "__main__":
    main()
