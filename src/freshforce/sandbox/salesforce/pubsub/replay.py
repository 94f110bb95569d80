"""Replay ids on the wire: 8 big-endian bytes, and where a subscription starts from one.

Salesforce calls them opaque; the Java sample reads 8 bytes as a long, so that is what we send.
"""

from __future__ import annotations

import grpc

from freshforce.proto import pubsub_api_pb2 as pb
from freshforce.sandbox.salesforce.pubsub.faults import (
    INVALID_REQUEST,
    REPLAY_ID_CORRUPTED,
    PubSubFault,
)

__all__ = ["decode_replay_id", "encode_replay_id", "start_after"]

_WIDTH = 8


def encode_replay_id(replay_id: int) -> bytes:
    """Return the wire form of ``replay_id``."""
    return replay_id.to_bytes(_WIDTH, "big")


def _corrupted(message: str) -> PubSubFault:
    return PubSubFault(grpc.StatusCode.INVALID_ARGUMENT, REPLAY_ID_CORRUPTED, message)


def decode_replay_id(raw: bytes) -> int:
    """Read a replay id a client sent back, refusing anything we never could have sent."""
    if len(raw) != _WIDTH:
        raise _corrupted(f"replay id must be {_WIDTH} bytes, got {len(raw)}")
    return int.from_bytes(raw, "big")


def start_after(preset: int, raw: bytes, oldest: int | None, latest: int) -> int:
    """Return the replay id a subscription starts after, for the first request's preset.

    ``oldest`` is the oldest retained replay id (None when nothing is retained) and ``latest``
    the newest ever handed out. A CUSTOM id whose successor has left the retention window, or
    that is newer than anything sent, is refused as corrupted: resubscribe and reconcile.
    """
    if preset == pb.LATEST:
        return latest
    if preset == pb.EARLIEST:
        return latest if oldest is None else oldest - 1
    if preset != pb.CUSTOM:
        raise PubSubFault(
            grpc.StatusCode.INVALID_ARGUMENT, INVALID_REQUEST, f"unknown replay preset {preset}"
        )
    after = decode_replay_id(raw)
    first_kept = latest + 1 if oldest is None else oldest
    if after > latest:
        raise _corrupted(f"replay id {after} is newer than the newest event ({latest})")
    if after + 1 < first_kept:
        raise _corrupted(
            f"replay id {after} is outside the retention window (oldest retained: {first_kept});"
            " resubscribe with EARLIEST or LATEST and reconcile"
        )
    return after
