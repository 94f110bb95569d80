"""One unit of writes to the org: create, update, delete, undelete, upsert, undoable to commit.

A ``Transaction`` validates each write against the object metadata, applies the org's rules
(``rules.py``) and validation rules (``validation.py``), stores the result, and notes the change
for CDC; ``savepoint``/``rollback_to`` undo part of it (composite and collections with
``allOrNone``). ``SalesforceState.transaction`` opens one and commits or undoes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

from freshforce.sandbox.salesforce import rules
from freshforce.sandbox.salesforce.changes import ChangeType, FieldValue
from freshforce.sandbox.salesforce.errors import (
    SalesforceError,
    duplicate_value,
    entity_is_deleted,
    invalid_cross_reference,
    invalid_field,
    invalid_field_for_insert_update,
    malformed_id,
    not_found,
    required_field_missing,
)
from freshforce.sandbox.salesforce.ids import is_valid_id, normalise_id
from freshforce.sandbox.salesforce.objects import FieldSpec, ObjectSpec
from freshforce.sandbox.salesforce.platform_events import EVENT_KEY_PREFIX, PendingEvent
from freshforce.sandbox.salesforce.records import Record
from freshforce.sandbox.salesforce.values import coerce_value
from freshforce.sandbox.salesforce.wire import format_datetime

if TYPE_CHECKING:
    from freshforce.sandbox.salesforce.state import SalesforceState

__all__ = ["MultipleMatchesError", "Transaction", "UpsertResult", "WriteContext"]

_K = TypeVar("_K")
_V = TypeVar("_V")
_NO_CDC_FIELDS = frozenset({"SystemModstamp", "IsDeleted"})
_AUDIT_FIELDS = frozenset(
    {"Id", "IsDeleted", "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById"}
    | {"SystemModstamp"}
)


@dataclass(frozen=True)
class WriteContext:
    """Who writes and through which API: feeds audit fields and CDC's ``changeOrigin``."""

    user_id: str
    api_version: str = "59.0"
    client: str | None = None
    api: str = "rest"

    @property
    def change_origin(self) -> str:
        if not self.api:
            return ""  # a Salesforce Classic UI edit: CDC leaves changeOrigin empty
        origin = f"com/salesforce/api/{self.api}/{self.api_version}"
        return f"{origin};client={self.client}" if self.client else origin


@dataclass(frozen=True)
class UpsertResult:
    """What an upsert did: the record's id and whether it was created."""

    id: str
    created: bool


class MultipleMatchesError(SalesforceError):
    """An external id matched several records (HTTP 300); nothing was written."""

    def __init__(self, object_name: str, ids: list[str]) -> None:
        super().__init__(300)
        self.object_name = object_name
        self.ids = tuple(ids)


@dataclass(frozen=True)
class _PendingChange:
    entity_name: str
    change_type: ChangeType
    record_ids: tuple[str, ...]
    fields: Mapping[str, FieldValue]
    changed_fields: tuple[str, ...] = ()
    nulled_fields: tuple[str, ...] = ()


class Transaction:
    """The writes of one request (or one allOrNone batch), undoable up to commit."""

    def __init__(self, state: SalesforceState, ctx: WriteContext, now: datetime, key: str) -> None:
        self.state = state
        self.ctx = ctx
        self.now = now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)
        self.stamp = format_datetime(self.now)
        self.key = key
        self.pending: list[_PendingChange] = []
        self.pending_events: list[PendingEvent] = []
        self._undo: list[Callable[[], None]] = []

    # ------------------------------------------------------------ savepoints

    def savepoint(self) -> tuple[int, int]:
        """Mark the current point; ``rollback_to`` it undoes everything after."""
        return (len(self._undo), len(self.pending))

    def rollback_to(self, mark: tuple[int, int] | int) -> None:
        undo_len, pending_len = (mark, 0) if isinstance(mark, int) else mark
        while len(self._undo) > undo_len:
            self._undo.pop()()
        del self.pending[pending_len:]

    # ------------------------------------------------------------ operations

    def create(
        self,
        object_name: str,
        fields: Mapping[str, object],
        *,
        record_id: str | None = None,
        extra: Mapping[str, FieldValue] | None = None,
    ) -> str:
        """Insert a record (or publish a platform event); return its new id."""
        if self.state.platform_events.get(object_name) is not None:
            return self.publish_event(object_name, fields)
        spec = self.state.describe(object_name)
        given = self._input(spec, fields, "create")
        new_id = record_id or self.state.minter.mint(spec.key_prefix)
        record: Record = {f.name: rules.default_value(f) for f in spec.fields}
        record.update(given)
        record.update(extra or {})
        record.update(
            Id=new_id,
            IsDeleted=False,
            CreatedDate=self.stamp,
            CreatedById=self.ctx.user_id,
            LastModifiedDate=self.stamp,
            LastModifiedById=self.ctx.user_id,
            SystemModstamp=self.stamp,
        )
        if spec.field("OwnerId") and record.get("OwnerId") is None:
            record["OwnerId"] = self.ctx.user_id
        rules.derive(self, spec, None, record, given)
        self._check(spec, record, list(record))
        self.state.validation_rules.check(spec, None, record, self.now)
        self._store(spec, new_id, record)
        fields_out = {k: v for k, v in record.items() if k not in _NO_CDC_FIELDS}
        self._log(spec, "CREATE", new_id, fields_out, ())  # changedFields is for updates only
        rules.after_write(self, spec, None, record)
        return new_id

    def publish_event(self, event_name: str, fields: Mapping[str, object]) -> str:
        """Publish a platform event when this transaction commits; return the event's id."""
        event_uuid = uuid.UUID(int=self.state.rng.getrandbits(128), version=4)
        pending = self.state.platform_events.prepare(
            event_name,
            fields,
            created_by=self.ctx.user_id,
            created_ms=int(self.now.timestamp() * 1000),
            event_uuid=event_uuid,
        )
        self.pending_events.append(pending)
        self._undo.append(lambda: self.pending_events.remove(pending))
        return self.state.minter.mint(EVENT_KEY_PREFIX)

    def update(self, object_name: str, record_id: str, fields: Mapping[str, object]) -> None:
        """Change some fields of a live record."""
        spec = self.state.describe(object_name)
        old = self.state.read(spec.name, record_id)
        given = self._input(spec, fields, "update", record_id=str(old["Id"]))
        new: Record = {**old, **given}
        rules.derive(self, spec, old, new, given)
        self.write(spec, old, new)

    def write(self, spec: ObjectSpec, old: Record, new: Record) -> None:
        """Store an updated record (checked, stamped, logged); rules use it for roll-ups."""
        changed = [k for k, v in new.items() if old.get(k) != v]
        self._check(spec, new, changed)
        self.state.validation_rules.check(spec, old, new, self.now)
        new.update(
            LastModifiedDate=self.stamp,
            LastModifiedById=self.ctx.user_id,
            SystemModstamp=self.stamp,
        )
        self._store(spec, str(old["Id"]), new)
        names = tuple(dict.fromkeys([*changed, "LastModifiedDate", "LastModifiedById"]))
        names = tuple(n for n in names if n not in _NO_CDC_FIELDS)
        self._log(spec, "UPDATE", str(old["Id"]), {n: new.get(n) for n in names}, names)
        rules.after_write(self, spec, old, new)

    def delete(self, object_name: str, record_id: str) -> None:
        """Move a live record (and the records that go with it) to the recycle bin."""
        spec = self.state.describe(object_name)
        old = self.state.read(spec.name, record_id)
        cascaded = self._delete(spec, old)
        self._remember_cascade(str(old["Id"]), tuple(cascaded))

    def _delete(self, spec: ObjectSpec, old: Record) -> list[str]:
        record_id = str(old["Id"])
        new = {**old, "IsDeleted": True, "SystemModstamp": self.stamp}
        new.update(LastModifiedDate=self.stamp, LastModifiedById=self.ctx.user_id)
        self._store(spec, record_id, new)
        self._set_deleted_at(record_id, self.stamp)
        self._log(spec, "DELETE", record_id, {}, ())
        cascaded: list[str] = []
        for child_name, field_name in rules.cascades(spec.name):
            child_spec = self.state.describe(child_name)
            for child_id in sorted(self.state.tables.lookup(child_spec, field_name, record_id)):
                child = self.state.tables.table(child_name)[child_id]
                if not child["IsDeleted"]:
                    cascaded.append(child_id)
                    cascaded.extend(self._delete(child_spec, child))
        rules.after_write(self, spec, old, new)
        return cascaded

    def undelete(self, record_id: str) -> str:
        """Bring a record (and what was deleted with it) back from the recycle bin."""
        found = self.state.get_record(record_id, include_deleted=True)
        if found is None:
            raise malformed_id("", record_id) if not is_valid_id(record_id) else not_found()
        if not found["IsDeleted"]:
            raise SalesforceError(400, rules.undelete_failed())
        canonical = str(found["Id"])
        for restored in (canonical, *self.state.tables.cascaded.get(canonical, ())):
            self._undelete_one(restored)
        return canonical

    def _undelete_one(self, record_id: str) -> None:
        old = self.state.get_record(record_id, include_deleted=True)
        if old is None or not old["IsDeleted"]:
            return
        spec = self.state.catalog.by_prefix(record_id[:3])
        if spec is None:
            return
        new = {**old, "IsDeleted": False, "SystemModstamp": self.stamp}
        new.update(LastModifiedDate=self.stamp, LastModifiedById=self.ctx.user_id)
        self._check(spec, new, [])
        self._store(spec, record_id, new)
        self._set_deleted_at(record_id, None)
        fields_out = {k: v for k, v in new.items() if k not in _NO_CDC_FIELDS}
        self._log(spec, "UNDELETE", record_id, fields_out, ())
        rules.after_write(self, spec, old, new)

    def upsert(
        self, object_name: str, field_name: str, value: str, fields: Mapping[str, object]
    ) -> UpsertResult:
        """Update the one record whose external id is ``value``, or create it; 300 on several."""
        spec = self.state.describe(object_name)
        key_field = spec.field(field_name)
        if key_field is None or not (key_field.external_id or key_field.name == "Id"):
            raise SalesforceError(404, rules.external_id_not_found(field_name))
        body = {k: v for k, v in fields.items() if k.lower() != key_field.name.lower()}
        if key_field.name == "Id":
            self.update(spec.name, value, body)
            return UpsertResult(normalise_id(value), created=False)
        matches = self.state.find(spec.name, key_field.name, value)
        if len(matches) > 1:
            raise MultipleMatchesError(spec.name, matches)
        if matches:
            self.update(spec.name, matches[0], body)
            return UpsertResult(matches[0], created=False)
        new_id = self.create(spec.name, {**body, key_field.name: value})
        return UpsertResult(new_id, created=True)

    # ------------------------------------------------------------ checks

    def _input(
        self,
        spec: ObjectSpec,
        fields: Mapping[str, object],
        operation: str,
        record_id: str | None = None,
    ) -> Record:
        """Map a client's body onto canonical field names and stored values."""
        given: Record = {}
        locked: list[str] = []
        for raw_name, raw_value in fields.items():
            if raw_name == "attributes":
                continue
            field = spec.field(raw_name)
            if field is None:
                raise invalid_field(spec.name, raw_name)
            if field.name == "Id" and record_id is not None:
                if raw_value is None or normalise_id(str(raw_value)) != record_id:
                    raise malformed_id("Id", str(raw_value))
                continue
            allowed = field.createable if operation == "create" else field.updateable
            if not allowed:
                locked.append(field.name)
                continue
            given[field.name] = coerce_value(field, raw_value)
        if locked:
            raise invalid_field_for_insert_update(operation, locked)
        return given

    def _check(self, spec: ObjectSpec, record: Record, changed: list[str]) -> None:
        missing = [f.name for f in spec.fields if f.required and record.get(f.name) is None]
        if missing:
            raise required_field_missing(missing)
        for name in changed:
            field = spec.field(name)
            if field is None or record.get(name) is None or name in _AUDIT_FIELDS:
                continue
            if field.type == "reference":
                self._check_reference(field, str(record[name]))
            if field.unique or field.external_id:
                self._check_unique(spec, field, record)

    def _check_reference(self, field: FieldSpec, value: str) -> None:
        target = self.state.get_record(value, include_deleted=True)
        prefix_ok = any(
            (spec := self.state.catalog.get(name)) is not None and spec.key_prefix == value[:3]
            for name in field.reference_to
        )
        if not prefix_ok:
            raise malformed_id(field.name, value)
        if target is None:
            raise invalid_cross_reference(field.name, value)
        if target["IsDeleted"]:
            raise SalesforceError(400, *entity_is_deleted().items)

    def _check_unique(self, spec: ObjectSpec, field: FieldSpec, record: Record) -> None:
        if not field.unique:
            return
        others = [
            i
            for i in self.state.find(spec.name, field.name, record[field.name])
            if i != record["Id"]
        ]
        if others:
            raise duplicate_value(field.name, others[0])

    # ------------------------------------------------------------ bookkeeping

    def _store(self, spec: ObjectSpec, record_id: str, new: Record) -> None:
        old = self.state.tables.put(spec, record_id, new)
        self._undo.append(lambda: self._restore(spec, record_id, old))

    def _restore(self, spec: ObjectSpec, record_id: str, old: Record | None) -> None:
        self.state.tables.put(spec, record_id, old)

    def _set_deleted_at(self, record_id: str, stamp: str | None) -> None:
        deleted_at = self.state.tables.deleted_at
        old = deleted_at.get(record_id)
        _assign(deleted_at, record_id, stamp)
        self._undo.append(lambda: _assign(deleted_at, record_id, old))

    def _remember_cascade(self, record_id: str, cascaded: tuple[str, ...]) -> None:
        table = self.state.tables.cascaded
        old = table.get(record_id)
        table[record_id] = cascaded
        self._undo.append(lambda: _assign(table, record_id, old))

    def _log(
        self,
        spec: ObjectSpec,
        change_type: ChangeType,
        record_id: str,
        fields: Mapping[str, FieldValue],
        changed: tuple[str, ...],
    ) -> None:
        nulled = (
            tuple(n for n in changed if fields.get(n) is None) if change_type == "UPDATE" else ()
        )
        self.pending.append(
            _PendingChange(spec.name, change_type, (record_id,), dict(fields), changed, nulled)
        )


def _assign(table: dict[_K, _V], key: _K, value: _V | None) -> None:
    if value is None:
        table.pop(key, None)
    else:
        table[key] = value
