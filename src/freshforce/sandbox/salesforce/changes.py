"""The change records the Salesforce sandbox's state emits, one per committed record change.

The REST side (``state.py``) appends them to a ``ChangeLog``; the Pub/Sub server reads the log,
assigns nothing itself, and encodes each record as an Avro change event. Keeping this type apart
lets the two halves be built and tested on their own.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

__all__ = ["ChangeLog", "ChangeRecord", "ChangeType"]

ChangeType = Literal[
    "CREATE",
    "UPDATE",
    "DELETE",
    "UNDELETE",
    "GAP_CREATE",
    "GAP_UPDATE",
    "GAP_DELETE",
    "GAP_UNDELETE",
    "GAP_OVERFLOW",
]

# A field value as the REST layer stores it: a JSON scalar (dates as their wire strings).
FieldValue = str | int | float | bool | None


@dataclass(frozen=True)
class ChangeRecord:
    """One committed change to one or more records of one entity, as CDC would describe it.

    ``fields`` holds the values CDC carries: every field for CREATE and UNDELETE, the changed ones
    for UPDATE, nothing for DELETE and GAP_* events. ``changed_fields`` / ``nulled_fields`` name
    fields by their API names (``BillingAddress.City`` for a compound part).
    """

    replay_id: int
    entity_name: str
    change_type: ChangeType
    record_ids: tuple[str, ...]
    change_origin: str
    transaction_key: str
    sequence_number: int
    commit_timestamp_ms: int
    commit_number: int
    commit_user: str
    fields: Mapping[str, FieldValue] = field(default_factory=dict)
    changed_fields: tuple[str, ...] = ()
    nulled_fields: tuple[str, ...] = ()
    diff_fields: tuple[str, ...] = ()


def _replay_id(record: ChangeRecord) -> int:
    return record.replay_id


@dataclass
class ChangeLog:
    """An append-only, thread-safe log of change records with increasing replay ids.

    Subscribers register a callback to be woken on append; they then read with ``since``.
    """

    _records: list[ChangeRecord] = field(default_factory=list)
    _next_replay_id: int = 1
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _listeners: list[Callable[[], None]] = field(default_factory=list)

    def append(self, change: ChangeRecord) -> ChangeRecord:
        """Store ``change`` under the next replay id (its own is ignored) and wake listeners."""
        with self._lock:
            record = replace(change, replay_id=self._next_replay_id)
            self._next_replay_id += 1
            self._records.append(record)
            listeners = list(self._listeners)
        for wake in listeners:
            wake()
        return record

    def since(self, replay_id: int, limit: int | None = None) -> list[ChangeRecord]:
        """Return the records after ``replay_id``, oldest first, at most ``limit``."""
        with self._lock:
            start = bisect.bisect_right(self._records, replay_id, key=_replay_id)
            end = None if limit is None else start + limit
            return self._records[start:end]

    def oldest_replay_id(self) -> int | None:
        """Return the oldest retained replay id, or ``None`` when the log is empty."""
        with self._lock:
            return self._records[0].replay_id if self._records else None

    def latest_replay_id(self) -> int:
        """Return the newest replay id handed out (0 before the first append)."""
        with self._lock:
            return self._next_replay_id - 1

    def drop_before(self, replay_id: int) -> None:
        """Forget records older than ``replay_id`` (the retention window moving on)."""
        with self._lock:
            self._records = [r for r in self._records if r.replay_id >= replay_id]

    def add_listener(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` (from the appending thread) after every append."""
        with self._lock:
            self._listeners.append(wake)

    def remove_listener(self, wake: Callable[[], None]) -> None:
        """Stop calling ``wake``."""
        with self._lock:
            if wake in self._listeners:
                self._listeners.remove(wake)

    def clear(self) -> None:
        """Forget every record (sandbox reset); replay ids keep increasing."""
        with self._lock:
            self._records.clear()
