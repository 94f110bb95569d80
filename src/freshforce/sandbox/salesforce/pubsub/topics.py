"""Pub/Sub topics: which events a topic name selects, encoded as the subscriber receives them.

``/data/ChangeEvents`` carries every CDC-enabled entity, ``/data/<Entity>ChangeEvent`` one entity
(``/data/<Name>__ChangeEvent`` for custom ``<Name>__c``), and ``/event/<Name>__e`` a platform
event that callers publish themselves. Change events are read from the REST state's change log
and encoded on first delivery; platform events are kept here, as published.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from freshforce.proto import pubsub_api_pb2 as pb
from freshforce.sandbox.salesforce.avro import CdcEntity, CdcField, EventSchema
from freshforce.sandbox.salesforce.changes import ChangeLog, ChangeRecord
from freshforce.sandbox.salesforce.platform_events import PlatformEvents, PlatformEventTopic
from freshforce.sandbox.salesforce.pubsub.change_events import ChangeEventEncoder

__all__ = ["ChangeEventTopic", "PlatformEventTopic", "Topic", "TopicRegistry"]

ALL_CHANGES = "/data/ChangeEvents"


class Topic(Protocol):
    """What a subscription reads from: events in replay order, and a way to be woken."""

    @property
    def name(self) -> str: ...
    @property
    def schema_id(self) -> str: ...
    @property
    def can_publish(self) -> bool: ...
    def since(self, after: int, limit: int) -> list[pb.ConsumerEvent]: ...
    def oldest_replay_id(self) -> int | None: ...
    def latest_replay_id(self) -> int: ...
    def add_listener(self, wake: Callable[[], None]) -> None: ...
    def remove_listener(self, wake: Callable[[], None]) -> None: ...


_CHUNK = 256


def _scan(log: ChangeLog, after: int) -> Iterator[ChangeRecord]:
    """Yield the log's records after ``after`` a chunk at a time, never copying the whole log."""
    while chunk := log.since(after, limit=_CHUNK):
        yield from chunk
        after = chunk[-1].replay_id


@dataclass
class ChangeEventTopic:
    """A CDC topic: the change log's records of one entity, or of all when ``entity`` is None."""

    name: str
    log: ChangeLog
    encoder: ChangeEventEncoder
    entity: str | None
    schema_id: str = ""
    can_publish: bool = False

    def since(self, after: int, limit: int) -> list[pb.ConsumerEvent]:
        found: list[pb.ConsumerEvent] = []
        for change in _scan(self.log, after):
            if len(found) >= limit:
                break
            if self.entity is not None and change.entity_name != self.entity:
                continue
            event = self.encoder.event(change)
            if event is not None:
                found.append(event)
        return found

    def oldest_replay_id(self) -> int | None:
        return self.log.oldest_replay_id()

    def latest_replay_id(self) -> int:
        return self.log.latest_replay_id()

    def add_listener(self, wake: Callable[[], None]) -> None:
        self.log.add_listener(wake)

    def remove_listener(self, wake: Callable[[], None]) -> None:
        self.log.remove_listener(wake)


class TopicRegistry:
    """Topic names to topics, schema ids to schemas, and the retention window's sweep.

    ``entities`` is asked for the CDC-enabled entities each time, so fields added at run time
    give a new schema (and id); schemas already handed out stay registered by id.
    """

    def __init__(
        self,
        log: ChangeLog,
        entities: Callable[[], Iterable[CdcEntity]],
        platform_events: PlatformEvents | Mapping[str, tuple[CdcField, ...]],
    ) -> None:
        self._log = log
        self._encoder = ChangeEventEncoder(log, entities)
        self._platform = (
            platform_events
            if isinstance(platform_events, PlatformEvents)
            else PlatformEvents.of(platform_events)
        )

    @staticmethod
    def _entity_name(topic_name: str) -> str | None:
        channel = topic_name.removeprefix("/data/")
        if channel == topic_name or not channel.endswith("ChangeEvent"):
            return None
        base = channel.removesuffix("ChangeEvent")
        return base + "c" if base.endswith("__") else base

    def topic(self, name: str) -> ChangeEventTopic | PlatformEventTopic | None:
        """Return the topic called ``name`` (case-sensitive), or None if there is none."""
        if name == ALL_CHANGES:
            return ChangeEventTopic(name, self._log, self._encoder, None)
        platform = self._platform.topic(name)
        if platform is not None:
            return platform
        entity_name = self._entity_name(name)
        entity = None if entity_name is None else self._encoder.current().get(entity_name)
        if entity is None:
            return None
        schema_id = self._encoder.schema_of(entity).schema_id
        return ChangeEventTopic(name, self._log, self._encoder, entity.name, schema_id)

    def entity_names(self) -> list[str]:
        """Return the names of the entities with change data capture on."""
        return list(self._encoder.current())

    def schema(self, schema_id: str) -> EventSchema | None:
        """Return a schema handed out before (or current), by id."""
        platform = self._platform.schema(schema_id)
        if platform is not None:
            return platform
        return self._encoder.schema(schema_id)

    def expire(self, cutoff_ms: int) -> None:
        """Forget events committed before ``cutoff_ms`` (epoch ms): the retention window."""
        first_kept = next(
            (c.replay_id for c in _scan(self._log, 0) if c.commit_timestamp_ms >= cutoff_ms),
            self._log.latest_replay_id() + 1,
        )
        self._log.drop_before(first_kept)
        self._encoder.forget_before(first_kept)
        for topic in self._platform.topics():
            topic.drop_older_than(cutoff_ms)
