"""The org's record tables: records by object and id, their indexes, the recycle bin's notes.

Reference, unique and external-id fields are indexed (external ids match case-insensitively)
so lookups, child lists and uniqueness checks cost one dict access. A stored record is never
changed in place; ``put`` replaces it, which is what lets a transaction undo a write by putting
the old record back.
"""

from __future__ import annotations

from freshforce.sandbox.salesforce.changes import FieldValue
from freshforce.sandbox.salesforce.objects import ObjectSpec

__all__ = ["Record", "RecordTables"]

Record = dict[str, FieldValue]


def _index_key(value: FieldValue) -> FieldValue:
    """External ids match case-insensitively; ids are already canonical."""
    return value.lower() if isinstance(value, str) else value


class RecordTables:
    """Records of every object, indexes kept in step, and what the recycle bin must remember.

    ``deleted_at`` maps a deleted record's id to its deletion time; ``cascaded`` maps a deleted
    record's id to the ids that went to the recycle bin with it (and come back with it).
    """

    def __init__(self) -> None:
        self._tables: dict[str, dict[str, Record]] = {}
        self._indexes: dict[tuple[str, str], dict[FieldValue, set[str]]] = {}
        self._indexed: dict[str, tuple[str, ...]] = {}
        self.deleted_at: dict[str, str] = {}
        self.cascaded: dict[str, tuple[str, ...]] = {}

    def table(self, object_name: str) -> dict[str, Record]:
        """Return the live table of one object (id → record, in insertion order)."""
        return self._tables.setdefault(object_name, {})

    def get(self, object_name: str, record_id: str) -> Record | None:
        return self._tables.get(object_name, {}).get(record_id)

    def indexed_fields(self, spec: ObjectSpec) -> tuple[str, ...]:
        """Return the indexed fields of an object, building their indexes on first use."""
        cached = self._indexed.get(spec.name)
        if cached is None:
            cached = tuple(
                f.name for f in spec.fields if f.type == "reference" or f.external_id or f.unique
            )
            self._indexed[spec.name] = cached
            for name in cached:
                self._build_index(spec.name, name)
        return cached

    def lookup(self, spec: ObjectSpec, field_name: str, value: FieldValue) -> set[str]:
        """Return the ids (deleted ones too) whose indexed ``field_name`` equals ``value``."""
        self.indexed_fields(spec)
        found = self._indexes.get((spec.name, field_name), {}).get(_index_key(value), set())
        return set(found)

    def put(self, spec: ObjectSpec, record_id: str, new: Record | None) -> Record | None:
        """Store ``new`` (or remove the record) keeping indexes in step; return the old one."""
        table = self.table(spec.name)
        old = table.get(record_id)
        for name in self.indexed_fields(spec):
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

    def forget_indexes(self, object_name: str) -> None:
        """Drop an object's indexes (its fields changed); they are rebuilt on next use."""
        self._indexed.pop(object_name, None)
        for key in [k for k in self._indexes if k[0] == object_name]:
            del self._indexes[key]

    def clear(self) -> None:
        self._tables.clear()
        self._indexes.clear()
        self._indexed.clear()
        self.deleted_at.clear()
        self.cascaded.clear()

    def _build_index(self, object_name: str, field_name: str) -> None:
        index: dict[FieldValue, set[str]] = {}
        for record_id, record in self._tables.get(object_name, {}).items():
            key = _index_key(record.get(field_name))
            if key is not None:
                index.setdefault(key, set()).add(record_id)
        self._indexes[(object_name, field_name)] = index
