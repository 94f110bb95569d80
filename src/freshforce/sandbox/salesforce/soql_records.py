"""Present the sandbox org's state as the ``RecordSource`` the SOQL engine reads.

Shapes are built from the live catalog on each call, so custom fields an admin adds at run time
are queryable at once.
"""

from __future__ import annotations

from collections.abc import Iterable

from freshforce.sandbox.salesforce.addresses import address_parts
from freshforce.sandbox.salesforce.objects import ObjectSpec
from freshforce.sandbox.salesforce.soql_source import (
    ChildLink,
    FieldSpec,
    ObjectShape,
    ParentLink,
    Record,
)
from freshforce.sandbox.salesforce.state import SalesforceState

__all__ = ["StateRecordSource"]


class StateRecordSource:
    """A ``RecordSource`` over one ``SalesforceState``."""

    def __init__(self, state: SalesforceState) -> None:
        self._state = state

    def shape(self, object_name: str) -> ObjectShape | None:
        spec = self._state.catalog.get(object_name)
        return None if spec is None else self._shape(spec)

    def _shape(self, spec: ObjectSpec) -> ObjectShape:
        parents = tuple(
            ParentLink(f.relationship_name, f.name, f.reference_to[0])
            for f in spec.fields
            if f.relationship_name and f.reference_to
        )
        children = tuple(
            ChildLink(r.relationship_name, r.child_sobject, r.field)
            for r in self._state.catalog.child_relationships(spec.name)
        )
        fields = tuple(FieldSpec(f.name, f.type, address_parts(spec, f)) for f in spec.fields)
        return ObjectShape(spec.name, fields, parents, children)

    def records(self, object_name: str, *, include_deleted: bool) -> Iterable[Record]:
        return self._state.records(object_name, include_deleted=include_deleted)

    def record(self, object_name: str, record_id: str) -> Record | None:
        del object_name  # ids carry their object in the key prefix
        return self._state.get_record(record_id)

    def children(
        self, link: ChildLink, parent_id: str, *, include_deleted: bool
    ) -> Iterable[Record]:
        parent = self._state.catalog.by_prefix(parent_id[:3])
        if parent is None:
            return ()
        return self._state.children(
            parent.name, parent_id, link.name, include_deleted=include_deleted
        )
