"""Writes no client made: silent edits and seeded records with given times and owners.

A silent edit changes stored fields with no change event and, unless ``touch`` is set, without
moving ``LastModifiedDate``/``SystemModstamp``: the poller cannot see it, only a reconciler that
compares values can. A seeded record is created as of ``created`` (and last modified at
``updated``), by and for the given users, with or without a CREATE change event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from freshforce.sandbox.salesforce.state import SalesforceState, WriteContext
from freshforce.sandbox.salesforce.wire import format_datetime, parse_datetime

__all__ = ["SeededRecord", "seed_record", "silent_update"]

_STAMPS = ("LastModifiedDate", "LastModifiedById", "SystemModstamp")


@dataclass(frozen=True)
class SeededRecord:
    """One record to seed: its fields, times (``updated`` defaults to ``created``) and users."""

    fields: Mapping[str, object]
    created: datetime | None = None
    updated: datetime | None = None
    created_by: str | None = None
    owner: str | None = None


def silent_update(
    state: SalesforceState,
    object_name: str,
    record_id: str,
    fields: Mapping[str, object],
    *,
    touch: bool = False,
) -> None:
    """Change a live record's fields with no change event; keep its timestamps unless ``touch``."""
    old = state.read(object_name, record_id)
    if touch:
        ctx, now = WriteContext(user_id=state.admin_user_id), None
    else:
        ctx = WriteContext(user_id=str(old["LastModifiedById"]))
        now = parse_datetime(str(old["LastModifiedDate"]))
    spec = state.describe(object_name)
    with state.transaction(ctx, emit=False, now=now) as tx:
        tx.update(spec.name, str(old["Id"]), fields)
    if not touch:
        new = state.read(spec.name, str(old["Id"]))
        state.tables.put(spec, str(old["Id"]), {**new, **{k: old[k] for k in _STAMPS}})


def seed_record(
    state: SalesforceState, object_name: str, seeded: SeededRecord, *, events: bool
) -> str:
    """Create one record as of ``seeded.created``; return its id."""
    creator = seeded.created_by or state.admin_user_id
    spec = state.describe(object_name)
    fields = dict(seeded.fields)
    if seeded.owner is not None and spec.field("OwnerId") is not None:
        fields["OwnerId"] = seeded.owner
    created = seeded.created or state.clock()
    with state.transaction(WriteContext(user_id=creator), emit=events, now=created) as tx:
        new_id = tx.create(spec.name, fields)
    if seeded.updated is not None:
        stamp = format_datetime(seeded.updated)
        record = state.read(spec.name, new_id)
        state.tables.put(
            spec, new_id, {**record, "LastModifiedDate": stamp, "SystemModstamp": stamp}
        )
    return new_id
