"""A stream the server ends while the client asks for more raises the call's status, not gRPC's
``InvalidStateError``: the CDC subscriber treats it as a dropped stream and resubscribes."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from freshforce.connectors.salesforce.pubsub import PubSubClient, error_code
from freshforce.proto import pubsub_api_pb2 as pb

UNAVAILABLE = "sfdc.platform.eventbus.grpc.service.unavailable"


class _EndedCall:
    """A Subscribe call the server ends with ``status`` after the first batch."""

    def __init__(self, status: grpc.StatusCode) -> None:
        self.status = status
        self.writes = 0
        self.reads = 0

    async def write(self, _request: Any) -> None:
        self.writes += 1
        if self.writes > 1:  # the server finished the call meanwhile
            raise asyncio.InvalidStateError("RPC already finished.")

    async def read(self) -> Any:
        self.reads += 1
        if self.reads == 1:
            return pb.FetchResponse(latest_replay_id=b"\x01", pending_num_requested=0)
        if self.status == grpc.StatusCode.OK:
            return grpc.aio.EOF  # type: ignore[attr-defined]  # not in the stubs
        trailers = grpc.aio.Metadata(("error-code", UNAVAILABLE))
        raise grpc.aio.AioRpcError(self.status, grpc.aio.Metadata(), trailers, "unavailable")

    def cancel(self) -> bool:
        return False


class _Stub:
    def __init__(self, call: _EndedCall) -> None:
        self.call = call

    def Subscribe(self, metadata: Any = None) -> _EndedCall:  # noqa: ARG002, N802 - gRPC names
        return self.call


async def _auth() -> tuple[tuple[tuple[str, str], ...], int]:
    return (), 0


async def _refresh(_version: int) -> None:
    return None


async def _batches(call: _EndedCall) -> list[bytes]:
    client = PubSubClient(_Stub(call), _auth, _refresh)  # type: ignore[arg-type]  # a fake stub
    return [
        r.latest_replay_id async for r in client.subscribe("/data/AccountChangeEvent", "LATEST", 1)
    ]


async def test_a_stream_ended_with_an_error_while_asking_for_more_raises_its_status() -> None:
    call = _EndedCall(grpc.StatusCode.UNAVAILABLE)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _batches(call)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert error_code(caught.value) == UNAVAILABLE
    assert call.writes == 2


async def test_a_stream_ended_cleanly_while_asking_for_more_just_ends() -> None:
    assert await _batches(_EndedCall(grpc.StatusCode.OK)) == [b"\x01"]
