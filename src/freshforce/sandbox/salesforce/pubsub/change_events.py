"""Change records to Pub/Sub events: each one encoded once, with its entity's schema at commit.

The encoder listens to the change log and pins every record to its entity's schema as it is
committed (a dictionary lookup, so REST writes stay cheap); the Avro encoding happens on first
delivery, with the pinned schema, so an event keeps the schema current at its commit even if a
field is added later. Schemas stay registered by id for as long as the server runs, as a
subscriber may ask for any it was sent.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import replace

import structlog

from freshforce.proto import pubsub_api_pb2 as pb
from freshforce.sandbox.salesforce.avro import (
    CdcEntity,
    EventSchema,
    change_event_schema,
    encode_change,
)
from freshforce.sandbox.salesforce.changes import ChangeLog, ChangeRecord, ChangeType
from freshforce.sandbox.salesforce.pubsub.replay import encode_replay_id

__all__ = ["ChangeEventEncoder"]

_log = structlog.get_logger(__name__)
_GAP_OF: dict[ChangeType, ChangeType] = {
    "CREATE": "GAP_CREATE",
    "UPDATE": "GAP_UPDATE",
    "DELETE": "GAP_DELETE",
    "UNDELETE": "GAP_UNDELETE",
}


def _event_id(change: ChangeRecord) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{change.transaction_key}/{change.replay_id}"))


def _payload(schema: EventSchema, change: ChangeRecord) -> bytes:
    """Encode a change; one whose values cannot be encoded becomes a header-only gap event."""
    try:
        return encode_change(schema, change)
    except ValueError as exc:
        _log.warning(
            "change_event_sent_as_gap",
            entity=change.entity_name,
            replay_id=change.replay_id,
            error=str(exc),
        )
        gap = _GAP_OF.get(change.change_type, change.change_type)
        bare = replace(change, change_type=gap, fields={}, changed_fields=(), nulled_fields=())
        return encode_change(schema, bare)


class ChangeEventEncoder:
    """Encodes the change log's records as they commit and keeps every schema it used."""

    def __init__(self, log: ChangeLog, entities: Callable[[], Iterable[CdcEntity]]) -> None:
        self._log = log
        self._entities = entities
        self._by_entity: dict[CdcEntity, EventSchema] = {}
        self._latest: dict[str, tuple[CdcEntity, EventSchema]] = {}
        self._by_id: dict[str, EventSchema] = {}
        self._events: dict[int, pb.ConsumerEvent] = {}
        self._pinned: dict[int, EventSchema] = {}
        self._seen_up_to = log.latest_replay_id()
        self._lock = threading.RLock()
        log.add_listener(self.pin_new)

    def current(self) -> dict[str, CdcEntity]:
        """Return the CDC-enabled entities as they are now, by name."""
        return {entity.name: entity for entity in self._entities()}

    def schema_of(self, entity: CdcEntity) -> EventSchema:
        """Return (and register) the schema of ``entity`` as it is now."""
        with self._lock:
            latest = self._latest.get(entity.name)
            if latest is not None and latest[0] is entity:
                return latest[1]  # the common case: the same entity object as last time
            schema = self._by_entity.get(entity)
            if schema is None:
                schema = change_event_schema(entity)
                self._by_entity[entity] = schema
                self._by_id[schema.schema_id] = schema
            self._latest[entity.name] = (entity, schema)
            return schema

    def schema(self, schema_id: str) -> EventSchema | None:
        """Return a schema used before, or a current one, by id."""
        if schema_id not in self._by_id:
            for entity in self._entities():
                self.schema_of(entity)
        return self._by_id.get(schema_id)

    def pin_new(self) -> None:
        """Pin records committed since the last call to their schema (the log calls this)."""
        with self._lock:
            current = self.current()
            for change in self._log.since(self._seen_up_to):
                entity = current.get(change.entity_name)
                if entity is not None:
                    self._pinned[change.replay_id] = self.schema_of(entity)
                self._seen_up_to = change.replay_id

    def _schema_for(self, change: ChangeRecord) -> EventSchema | None:
        pinned = self._pinned.pop(change.replay_id, None)
        if pinned is not None:
            return pinned
        entity = self.current().get(change.entity_name)  # committed before we listened
        return None if entity is None else self.schema_of(entity)

    def event(self, change: ChangeRecord) -> pb.ConsumerEvent | None:
        """Return the encoded event of ``change``, or None if its entity has no CDC."""
        with self._lock:
            cached = self._events.get(change.replay_id)
            if cached is not None:
                return cached
            schema = self._schema_for(change)
            if schema is None:
                return None
            producer = pb.ProducerEvent(
                id=_event_id(change), schema_id=schema.schema_id, payload=_payload(schema, change)
            )
            replay_id = encode_replay_id(change.replay_id)
            event = pb.ConsumerEvent(event=producer, replay_id=replay_id)
            self._events[change.replay_id] = event
            return event

    def forget_before(self, replay_id: int) -> None:
        """Drop encoded events older than ``replay_id`` (the retention window moved on)."""
        with self._lock:
            for old in [r for r in self._events if r < replay_id]:
                del self._events[old]
            for old in [r for r in self._pinned if r < replay_id]:
                del self._pinned[old]
