"""Presents the org's state as the record source the SOQL engine reads."""

from __future__ import annotations

from collections.abc import Iterable

from freshforce.sandbox.salesforce.soql import (
    ChildLink,
    FieldSpec,
    ObjectShape,
    ParentLink,
    Record,
)
from freshforce.sandbox.salesforce.state import SalesforceState

__all__ = ["StateRecordSource"]


class StateRecordSource:
    """``soql.RecordSource`` over a ``SalesforceState``: shapes from its catalog, its records."""

    def __init__(self, state: SalesforceState) -> None:
        self._state = state

    def shape(self, object_name: str) -> ObjectShape | None:
        spec = self._state.catalog.get(object_name)
        if spec is None:
            return None
        parents = tuple(
            ParentLink(f.relationship_name, f.name, f.reference_to[0])
            for f in spec.fields
            if f.type == "reference" and f.relationship_name and f.reference_to
        )
        children = tuple(
            ChildLink(r.relationship_name, r.child_sobject, r.field)
            for r in self._state.catalog.child_relationships(spec.name)
        )
        fields = tuple(FieldSpec(f.name, f.type) for f in spec.fields)
        return ObjectShape(spec.name, fields, parents, children)

    def records(self, object_name: str, *, include_deleted: bool) -> Iterable[Record]:
        return self._state.records(object_name, include_deleted)

    def record(self, object_name: str, record_id: str) -> Record | None:
        found = self._state.get_record(record_id)
        spec = self._state.catalog.get(object_name)
        if found is None or spec is None or not str(found["Id"]).startswith(spec.key_prefix):
            return None
        return found

    def children(
        self, link: ChildLink, parent_id: str, *, include_deleted: bool
    ) -> Iterable[Record]:
        return self._state.referencing(link.child_object, link.field, parent_id, include_deleted)
