"""Platform events of the org: ``X__e`` definitions, their topics, and REST publishing.

An admin defines an event (``/_sandbox/salesforce/platform-events``) with custom ``__c`` fields;
every org starts with ``SEEDED_EVENTS`` (freshforce's four) and ``Sandbox_Notice__e``. Events
published through REST (``sobjects/X__e``, composite, collections) join their transaction and are
stored on commit ("Publish After Commit"); Pub/Sub ``Publish`` stores at once. Each topic keeps
its events in replay order for subscribers, within the retention window. Events cannot be
queried, updated or deleted.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from freshforce.proto import pubsub_api_pb2 as pb
from freshforce.sandbox.salesforce.avro import (
    CdcField,
    EventSchema,
    encode_platform_event,
    platform_event_schema,
)
from freshforce.sandbox.salesforce.changes import Wakers
from freshforce.sandbox.salesforce.errors import invalid_field, json_parser_error

__all__ = [
    "EVENT_KEY_PREFIX",
    "SEEDED_EVENTS",
    "EventDefinition",
    "PendingEvent",
    "PlatformEventTopic",
    "PlatformEvents",
]

EVENT_KEY_PREFIX = "e00"  # UNCONFIRMED: the REST reply's id format for a published event


@dataclass(frozen=True)
class EventDefinition:
    """A platform event as Setup defines it: ``X__e`` with its custom fields."""

    name: str
    fields: tuple[CdcField, ...]
    label: str = ""

    def field(self, name: str) -> CdcField | None:
        lowered = name.lower()
        return next((f for f in self.fields if f.name.lower() == lowered), None)


def _text(*names: str) -> tuple[CdcField, ...]:
    return tuple(CdcField(name, "string") for name in names)


# The events freshforce listens to and announces; docs/platform-events.md has their metadata.
SEEDED_EVENTS: tuple[EventDefinition, ...] = (
    EventDefinition(
        "FreshBooks_Sync_Request__e",
        _text("Record_Id__c", "Action__c", "Requested_By__c"),
        "FreshBooks Sync Request",
    ),
    EventDefinition(
        "FreshBooks_Invoice_Event__e",
        (
            *_text("Event_Key__c", "Opportunity_Id__c", "Account_Id__c", "Invoice_Id__c"),
            *_text("Invoice_Number__c", "Currency__c", "Status__c"),
            CdcField("Amount__c", "double"),
        ),
        "FreshBooks Invoice Event",
    ),
    EventDefinition(
        "FreshBooks_Payment_Event__e",
        (
            *_text("Event_Key__c", "Opportunity_Id__c", "Invoice_Id__c", "Payment_Status__c"),
            *_text("Currency__c", "Last_Payment_Date__c"),
            CdcField("Amount_Paid__c", "double"),
            CdcField("Balance__c", "double"),
        ),
        "FreshBooks Payment Event",
    ),
    EventDefinition(
        "FreshForce_Sync_Error__e",
        _text("Event_Key__c", "Flow__c", "Record_Key__c", "Record_Id__c", "Reason__c"),
        "FreshForce Sync Error",
    ),
    EventDefinition("Sandbox_Notice__e", _text("Message__c", "Record_Id__c"), "Sandbox Notice"),
)


@dataclass
class PlatformEventTopic:
    """A platform event topic (``/event/<Name>__e``): what callers published, in order."""

    name: str
    schema: EventSchema
    can_publish: bool = True
    _events: list[tuple[int, int, pb.ConsumerEvent]] = field(default_factory=list)
    _latest: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _wakers: Wakers = field(default_factory=Wakers)

    @property
    def schema_id(self) -> str:
        return self.schema.schema_id

    def publish(self, event: pb.ProducerEvent, now_ms: int) -> int:
        """Store a validated event under the next replay id, wake subscribers, return the id."""
        with self._lock:
            self._latest += 1
            replay = self._latest.to_bytes(8, "big")  # as pubsub/replay.py encodes it
            self._events.append(
                (self._latest, now_ms, pb.ConsumerEvent(event=event, replay_id=replay))
            )
            replay_id = self._latest
        self._wakers.wake_all()
        return replay_id

    def since(self, after: int, limit: int) -> list[pb.ConsumerEvent]:
        with self._lock:
            return [event for replay_id, _, event in self._events if replay_id > after][:limit]

    def oldest_replay_id(self) -> int | None:
        with self._lock:
            return self._events[0][0] if self._events else None

    def latest_replay_id(self) -> int:
        with self._lock:
            return self._latest

    def drop_older_than(self, cutoff_ms: int) -> None:
        with self._lock:
            self._events = [entry for entry in self._events if entry[1] >= cutoff_ms]

    def add_listener(self, wake: Callable[[], None]) -> None:
        self._wakers.add(wake)

    def remove_listener(self, wake: Callable[[], None]) -> None:
        self._wakers.remove(wake)


@dataclass(frozen=True)
class PendingEvent:
    """An event published inside a REST transaction, stored when the transaction commits."""

    topic: PlatformEventTopic
    event: pb.ProducerEvent


class PlatformEvents:
    """The org's platform event definitions and one topic per definition."""

    def __init__(self, definitions: Iterable[EventDefinition] = SEEDED_EVENTS) -> None:
        self._lock = threading.Lock()
        self._definitions: dict[str, EventDefinition] = {}
        self._topics: dict[str, PlatformEventTopic] = {}
        self._schemas: dict[str, EventSchema] = {}
        for definition in definitions:
            self.define(definition)

    @classmethod
    def of(cls, fields_by_name: Mapping[str, tuple[CdcField, ...]]) -> PlatformEvents:
        """Return a registry holding exactly the given events (name to fields)."""
        return cls(EventDefinition(name, fields) for name, fields in fields_by_name.items())

    def define(self, definition: EventDefinition) -> EventDefinition:
        """Add (or replace the fields of) an event; a changed definition gets a new schema."""
        schema = platform_event_schema(definition.name, definition.fields)
        topic_name = f"/event/{definition.name}"
        with self._lock:
            existing = self._definitions.get(definition.name.lower())
            if existing is not None and existing.name != definition.name:
                raise ValueError(f"{definition.name}: an event called {existing.name} exists")
            self._definitions[definition.name.lower()] = definition
            self._schemas[schema.schema_id] = schema
            topic = self._topics.get(topic_name)
            if topic is None:
                self._topics[topic_name] = PlatformEventTopic(topic_name, schema)
            else:
                topic.schema = schema
        return definition

    def get(self, name: str) -> EventDefinition | None:
        """Return the event called ``name`` (case-insensitive, as REST reads sObject names)."""
        with self._lock:
            return self._definitions.get(name.lower())

    def definitions(self) -> list[EventDefinition]:
        with self._lock:
            return list(self._definitions.values())

    def topic(self, topic_name: str) -> PlatformEventTopic | None:
        """Return the topic ``/event/<Name>__e`` (case-sensitive, as Pub/Sub reads it)."""
        with self._lock:
            return self._topics.get(topic_name)

    def schema(self, schema_id: str) -> EventSchema | None:
        """Return any schema an event ever had (old events keep theirs), by id."""
        with self._lock:
            return self._schemas.get(schema_id)

    def topics(self) -> list[PlatformEventTopic]:
        with self._lock:
            return list(self._topics.values())

    def prepare(
        self,
        name: str,
        values: Mapping[str, object],
        *,
        created_by: str,
        created_ms: int,
        event_uuid: uuid.UUID,
    ) -> PendingEvent:
        """Check and encode a REST body as an event of ``name``; raise as REST would."""
        definition = self.get(name)
        if definition is None:
            raise ValueError(f"{name} is not a platform event")
        topic = self.topic(f"/event/{definition.name}")
        assert topic is not None  # noqa: S101 - define() adds both together
        known: dict[str, object] = {}
        for key, value in values.items():
            if key == "attributes":
                continue
            spec = definition.field(key)
            if spec is None:
                raise invalid_field(definition.name, key)
            known[spec.name] = value
        try:
            payload = encode_platform_event(
                topic.schema, definition.fields, known, created_ms, created_by
            )
        except ValueError as exc:
            raise json_parser_error(f"{definition.name}: {exc}") from exc
        event = pb.ProducerEvent(id=str(event_uuid), schema_id=topic.schema_id, payload=payload)
        return PendingEvent(topic, event)
