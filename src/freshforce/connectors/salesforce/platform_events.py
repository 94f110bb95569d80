"""Platform events on the Pub/Sub wire: decoded as received, encoded to publish, and results.

A platform event (``/event/<Name>__e``) is an Avro record of the topic's schema: ``CreatedDate``
(epoch ms), ``CreatedById`` and the event's custom fields, without the header change events
carry. ``PublishResult`` answers each published event with a replay id or an error.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import fastavro

__all__ = [
    "PlatformEvent",
    "PublishOutcome",
    "ReceivedEvents",
    "decode_platform_event",
    "encode_platform_event",
]

# fastavro's parsed schemas and records are plain JSON-like data: the Avro wire description.
Schema = Any


@dataclass(frozen=True)
class PlatformEvent:
    """One received platform event: its replay id, event id and field values."""

    replay_id: bytes
    event_id: str
    values: dict[str, Any]  # the decoded Avro record, nulls kept

    def text(self, name: str) -> str:
        """Return field ``name`` as stripped text ('' when null or absent)."""
        value = self.values.get(name)
        return "" if value is None else str(value).strip()


@dataclass(frozen=True)
class ReceivedEvents:
    """One ``FetchResponse`` of a platform event topic and the position after it."""

    events: tuple[PlatformEvent, ...]
    latest_replay_id: bytes

    @property
    def position(self) -> str | None:
        """Return the replay id to resume after this batch (base64), or ``None`` without one."""
        replay = self.events[-1].replay_id if self.events else self.latest_replay_id
        return base64.b64encode(replay).decode() if replay else None


@dataclass(frozen=True)
class PublishOutcome:
    """What the server said about one published event: its replay id, or why not."""

    correlation_key: str
    replay_id: bytes = b""
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


def decode_platform_event(
    payload: bytes, replay_id: bytes, event_id: str, schema: Schema
) -> PlatformEvent:
    """Decode one Avro payload of a platform event topic."""
    record: dict[str, Any] = fastavro.schemaless_reader(io.BytesIO(payload), schema, None)  # type: ignore[assignment]
    return PlatformEvent(replay_id=replay_id, event_id=event_id, values=record)


def encode_platform_event(
    schema: Schema, fields: Sequence[Schema], values: Mapping[str, object], *, created_ms: int
) -> bytes:
    """Encode ``values`` with the topic's schema; fields not given are null.

    ``CreatedById`` is the publisher (the server knows it from the token; the wire wants some
    value), ``CreatedDate`` is now.
    """
    names = {field["name"] for field in fields}
    unknown = sorted(set(values) - names)
    if unknown:
        msg = f"the event schema has no field {', '.join(unknown)}"
        raise ValueError(msg)
    record: dict[str, object] = dict.fromkeys(names)
    record.update({"CreatedDate": created_ms, "CreatedById": ""})
    record.update(values)
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, schema, record)
    return buffer.getvalue()
