"""The Salesforce sandbox's records: storage, transactions, CRUD, upsert and the recycle bin.

No HTTP here (``api.py`` speaks the wire). Every write runs in a ``Transaction``: it validates
against ``objects.py`` metadata, applies the org's rules (``rules.py``), and on commit appends one
``ChangeRecord`` per record change to the ``ChangeLog`` the Pub/Sub server reads; on failure
everything it did is undone. Reads hand out the stored records as read-only mappings; a stored
record is never changed in place, each write stores a new dict.

The record source SOQL reads: ``catalog`` (describe), ``records(object, include_deleted)``,
``get_record(id, include_deleted)`` and ``children(object, id, relationship, include_deleted)``.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from freshforce.sandbox.salesforce import rules
from freshforce.sandbox.salesforce.changes import ChangeLog, ChangeRecord, ChangeType, FieldValue
from freshforce.sandbox.salesforce.errors import (
    SalesforceError,
    duplicate_value,
    entity_is_deleted,
    invalid_cross_reference,
    invalid_field,
    invalid_field_for_insert_update,
    invalid_type,
    malformed_id,
    not_found,
    required_field_missing,
)
from freshforce.sandbox.salesforce.ids import IdMinter, is_valid_id, normalise_id
from freshforce.sandbox.salesforce.limits import ApiAllocation
from freshforce.sandbox.salesforce.objects import (
    FieldSpec,
    ObjectCatalog,
    ObjectSpec,
    standard_catalog,
)
from freshforce.sandbox.salesforce.values import coerce_value
from freshforce.sandbox.salesforce.wire import format_datetime

__all__ = [
    "MultipleMatchesError",
    "Record",
    "SalesforceState",
    "Transaction",
    "UpsertResult",
    "WriteContext",
]

Record = dict[str, FieldValue]
_K = TypeVar("_K")
_V = TypeVar("_V")
Clock = Callable[[], datetime]
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


class SalesforceState:
    """One org: its objects, records, users, API allocation and change log.

    ``clock`` and ``rng`` are injected so two runs with the same inputs give the same ids,
    timestamps and transaction keys.
    """

    def __init__(
        self,
        *,
        clock: Clock,
        changes: ChangeLog | None = None,
        catalog: ObjectCatalog | None = None,
        rng: random.Random | None = None,
        daily_api_limit: int = 15_000,
        pod: str = "8d",
    ) -> None:
        self.clock = clock
        self.changes = changes if changes is not None else ChangeLog()
        self.catalog = catalog if catalog is not None else standard_catalog()
        self.rng = rng if rng is not None else random.Random(0)  # noqa: S311 - ids, not secrets
        self.allocation = ApiAllocation(clock=clock, max_calls=daily_api_limit)
        self.minter = IdMinter(pod=pod)
        self._store: dict[str, dict[str, Record]] = {}
        self._indexes: dict[tuple[str, str], dict[FieldValue, set[str]]] = {}
        self._indexed: dict[str, tuple[str, ...]] = {}
        self._deleted_at: dict[str, str] = {}
        self._cascaded: dict[str, tuple[str, ...]] = {}
        self._commit_number = 0
        self.org_id = self.minter.mint("00D")
        self.admin_user_id = ""
        self._bootstrap()

    # ------------------------------------------------------------ setup

    def _bootstrap(self) -> None:
        """Create what every org has: an admin user and the standard price book (no CDC)."""
        self.admin_user_id = self.minter.mint("005")
        ctx = WriteContext(user_id=self.admin_user_id)
        with self.transaction(ctx, emit=False) as tx:
            tx.create(
                "User",
                {
                    "Username": "admin@freshforce.sandbox",
                    "FirstName": "Sandbox",
                    "LastName": "Admin",
                    "Email": "admin@freshforce.sandbox",
                    "Alias": "admin",
                },
                record_id=self.admin_user_id,
            )
            tx.create(
                "Pricebook2",
                {"Name": "Standard Price Book", "IsActive": True},
                extra={"IsStandard": True},
            )

    def reset(self) -> None:
        """Forget every record and start again from a fresh org.

        The org id stays; CDC replay ids keep increasing.
        """
        self._store.clear()
        self._indexes.clear()
        self._deleted_at.clear()
        self._cascaded.clear()
        self.allocation.reset()
        self.changes.clear()
        self.minter.reset()
        self.minter.mint("00D")
        self._bootstrap()

    # ------------------------------------------------------------ metadata

    def describe(self, object_name: str) -> ObjectSpec:
        """Return the object called ``object_name``, or raise NOT_FOUND as REST does."""
        spec = self.catalog.get(object_name)
        if spec is None:
            raise invalid_type(object_name)
        return spec

    def add_custom_field(self, object_name: str, spec: FieldSpec) -> FieldSpec:
        """Add a custom ``__c`` field at run time (existing records read it as null)."""
        added = self.catalog.add_custom_field(object_name, spec)
        canonical = self.describe(object_name).name
        self._indexed.pop(canonical, None)
        for key in [k for k in self._indexes if k[0] == canonical]:
            del self._indexes[key]
        return added

    def standard_pricebook_id(self) -> str:
        found = self.find("Pricebook2", "IsStandard", value=True)
        return found[0]

    # ------------------------------------------------------------ reads

    def records(self, object_name: str, include_deleted: bool = False) -> Iterator[Record]:
        """Yield the records of an object in creation order (recycle bin too, when asked)."""
        spec = self.describe(object_name)
        for record in list(self._store.get(spec.name, {}).values()):
            if include_deleted or not record["IsDeleted"]:
                yield record

    def count(self, object_name: str, include_deleted: bool = False) -> int:
        return sum(1 for _ in self.records(object_name, include_deleted))

    def get_record(self, record_id: str, include_deleted: bool = False) -> Record | None:
        """Return the record with ``record_id`` (15 or 18 characters) of any object, or None."""
        if not is_valid_id(record_id):
            return None
        canonical = normalise_id(record_id)
        spec = self.catalog.by_prefix(canonical[:3])
        if spec is None:
            return None
        record = self._store.get(spec.name, {}).get(canonical)
        if record is None or (record["IsDeleted"] and not include_deleted):
            return None
        return record

    def children(
        self,
        object_name: str,
        record_id: str,
        relationship: str,
        include_deleted: bool = False,
    ) -> list[Record]:
        """Return the children listed under ``relationship`` (``Contacts``…) of one record."""
        link = self.catalog.child_relationship(object_name, relationship)
        if link is None:
            raise invalid_field(self.describe(object_name).name, relationship)
        return self.referencing(link.child_sobject, link.field, record_id, include_deleted)

    def referencing(
        self, object_name: str, field_name: str, record_id: str, include_deleted: bool = False
    ) -> list[Record]:
        """Return the records of ``object_name`` whose reference ``field_name`` is ``record_id``."""
        spec = self.describe(object_name)
        ids = self._lookup(spec.name, field_name, record_id)
        found = [self._store[spec.name][i] for i in ids]
        kept = [r for r in found if include_deleted or not r["IsDeleted"]]
        return sorted(kept, key=lambda r: str(r["CreatedDate"]) + str(r["Id"]))

    def read(self, object_name: str, record_id: str) -> Record:
        """Return a live record for REST, or raise MALFORMED_ID / NOT_FOUND / ENTITY_IS_DELETED."""
        spec = self.describe(object_name)
        if not is_valid_id(record_id):
            raise not_found()
        canonical = normalise_id(record_id)
        record = self._store.get(spec.name, {}).get(canonical)
        if record is None:
            raise not_found()
        if record["IsDeleted"]:
            raise entity_is_deleted()
        return record

    def find(self, object_name: str, field_name: str, value: FieldValue) -> list[str]:
        """Return the ids of live records whose indexed field equals ``value``."""
        spec = self.describe(object_name)
        field = spec.field(field_name)
        if field is None:
            raise invalid_field(spec.name, field_name)
        if field.name not in self._indexed_fields(spec):
            matches = [r["Id"] for r in self.records(spec.name) if r.get(field.name) == value]
            return [str(i) for i in matches]
        ids = self._lookup(spec.name, field.name, value)
        return sorted(i for i in ids if not self._store[spec.name][i]["IsDeleted"])

    def updated_ids(self, object_name: str, start: datetime, end: datetime) -> list[str]:
        """Ids of live records whose SystemModstamp falls in [start, end] (``…/updated/``)."""
        low, high = format_datetime(start), format_datetime(end)
        return [
            str(r["Id"])
            for r in self.records(object_name)
            if low <= str(r["SystemModstamp"]) <= high
        ]

    def deleted_records(
        self, object_name: str, start: datetime, end: datetime
    ) -> list[tuple[str, str]]:
        """(id, deletedDate) of records deleted in [start, end] (``…/deleted/``)."""
        low, high = format_datetime(start), format_datetime(end)
        return [
            (str(r["Id"]), self._deleted_at[str(r["Id"])])
            for r in self.records(object_name, include_deleted=True)
            if r["IsDeleted"] and low <= self._deleted_at.get(str(r["Id"]), "") <= high
        ]

    # ------------------------------------------------------------ writes

    @contextmanager
    def transaction(self, ctx: WriteContext, emit: bool = True) -> Iterator[Transaction]:
        """Run writes as one unit: committed (and logged) on success, undone on any error."""
        tx = Transaction(self, ctx, self.clock(), self._transaction_key())
        try:
            yield tx
        except BaseException:
            tx.rollback_to(0)
            raise
        if emit:
            self._commit(tx)

    def create(self, object_name: str, fields: Mapping[str, object], ctx: WriteContext) -> str:
        with self.transaction(ctx) as tx:
            return tx.create(object_name, fields)

    def update(
        self, object_name: str, record_id: str, fields: Mapping[str, object], ctx: WriteContext
    ) -> None:
        with self.transaction(ctx) as tx:
            tx.update(object_name, record_id, fields)

    def delete(self, object_name: str, record_id: str, ctx: WriteContext) -> None:
        with self.transaction(ctx) as tx:
            tx.delete(object_name, record_id)

    def undelete(self, record_id: str, ctx: WriteContext) -> None:
        with self.transaction(ctx) as tx:
            tx.undelete(record_id)

    def upsert(
        self,
        object_name: str,
        field_name: str,
        value: str,
        fields: Mapping[str, object],
        ctx: WriteContext,
    ) -> UpsertResult:
        with self.transaction(ctx) as tx:
            return tx.upsert(object_name, field_name, value, fields)

    # ------------------------------------------------------------ internals

    def _transaction_key(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _commit(self, tx: Transaction) -> None:
        if not tx.pending:
            return
        self._commit_number += 1
        stamp = int(tx.now.timestamp() * 1000)
        for sequence, change in enumerate(tx.pending, start=1):
            self.changes.append(
                ChangeRecord(
                    replay_id=0,
                    entity_name=change.entity_name,
                    change_type=change.change_type,
                    record_ids=change.record_ids,
                    change_origin=tx.ctx.change_origin,
                    transaction_key=tx.key,
                    sequence_number=sequence,
                    commit_timestamp_ms=stamp,
                    commit_number=self._commit_number,
                    commit_user=tx.ctx.user_id,
                    fields=change.fields,
                    changed_fields=change.changed_fields,
                    nulled_fields=change.nulled_fields,
                )
            )

    def _indexed_fields(self, spec: ObjectSpec) -> tuple[str, ...]:
        cached = self._indexed.get(spec.name)
        if cached is None:
            cached = tuple(
                f.name for f in spec.fields if f.type == "reference" or f.external_id or f.unique
            )
            self._indexed[spec.name] = cached
            for name in cached:
                self._build_index(spec.name, name)
        return cached

    def _build_index(self, object_name: str, field_name: str) -> None:
        index: dict[FieldValue, set[str]] = {}
        for record_id, record in self._store.get(object_name, {}).items():
            key = _index_key(record.get(field_name))
            if key is not None:
                index.setdefault(key, set()).add(record_id)
        self._indexes[(object_name, field_name)] = index

    def _lookup(self, object_name: str, field_name: str, value: FieldValue) -> set[str]:
        self._indexed_fields(self.describe(object_name))
        key = _index_key(value)
        return set(self._indexes.get((object_name, field_name), {}).get(key, set()))

    def _put(self, spec: ObjectSpec, record_id: str, new: Record | None) -> Record | None:
        """Store ``new`` (or remove the record) keeping indexes in step; return the old one."""
        table = self._store.setdefault(spec.name, {})
        old = table.get(record_id)
        for name in self._indexed_fields(spec):
            index = self._indexes[(spec.name, name)]
            old_key = _index_key(old.get(name)) if old else None
            new_key = _index_key(new.get(name)) if new else None
            if old_key == new_key:
                continue
            if old_key is not None:
                index.get(old_key, set()).discard(record_id)
            if new_key is not None:
                index.setdefault(new_key, set()).add(record_id)
        if new is None:
            table.pop(record_id, None)
        else:
            table[record_id] = new
        return old


def _index_key(value: FieldValue) -> FieldValue:
    """External ids match case-insensitively; ids are already canonical."""
    return value.lower() if isinstance(value, str) else value


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
        """Insert a record; return its new id."""
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
        self._store(spec, new_id, record)
        fields_out = {k: v for k, v in record.items() if k not in _NO_CDC_FIELDS}
        changed = tuple(k for k, v in fields_out.items() if v is not None)
        self._log(spec, "CREATE", new_id, fields_out, changed)
        rules.after_write(self, spec, None, record)
        return new_id

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
            for child_id in sorted(self.state._lookup(child_name, field_name, record_id)):  # noqa: SLF001 - same module
                child = self.state._store[child_name][child_id]  # noqa: SLF001 - same module
                if not child["IsDeleted"]:
                    cascaded.append(child_id)
                    cascaded.extend(self._delete(self.state.describe(child_name), child))
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
        for restored in (canonical, *self.state._cascaded.get(canonical, ())):  # noqa: SLF001 - same module
            self._undelete_one(restored)
        return canonical

    def _undelete_one(self, record_id: str) -> None:
        old = self.state.get_record(record_id, include_deleted=True)
        if old is None or not old["IsDeleted"]:
            return
        spec = self.state.describe(self.state.catalog.by_prefix(record_id[:3]).name)  # type: ignore[union-attr]
        new = {**old, "IsDeleted": False, "SystemModstamp": self.stamp}
        new.update(LastModifiedDate=self.stamp, LastModifiedById=self.ctx.user_id)
        self._check(spec, new, [])
        self._store(spec, record_id, new)
        self._set_deleted_at(record_id, None)
        fields_out = {k: v for k, v in new.items() if k not in _NO_CDC_FIELDS}
        changed = tuple(k for k, v in fields_out.items() if v is not None)
        self._log(spec, "UNDELETE", record_id, fields_out, changed)
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
        old = self.state._put(spec, record_id, new)  # noqa: SLF001 - same module
        self._undo.append(lambda: self._restore(spec, record_id, old))

    def _restore(self, spec: ObjectSpec, record_id: str, old: Record | None) -> None:
        self.state._put(spec, record_id, old)  # noqa: SLF001 - same module

    def _set_deleted_at(self, record_id: str, stamp: str | None) -> None:
        deleted_at = self.state._deleted_at  # noqa: SLF001 - same module
        old = deleted_at.get(record_id)
        _assign(deleted_at, record_id, stamp)
        self._undo.append(lambda: _assign(deleted_at, record_id, old))

    def _remember_cascade(self, record_id: str, cascaded: tuple[str, ...]) -> None:
        table = self.state._cascaded  # noqa: SLF001 - same module
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
