"""The record source the SOQL evaluator reads: object shapes, records, parents and children.

The sandbox's state implements ``RecordSource``; the evaluator needs nothing else from it.
Names passed in may have any casing; shapes carry the API-name casing results must use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

__all__ = ["ChildLink", "FieldSpec", "ObjectShape", "ParentLink", "Record", "RecordSource"]

# A record as the REST layer stores it: API field name -> JSON scalar (dates as wire strings).
Record = Mapping[str, str | int | float | bool | None]


@dataclass(frozen=True)
class FieldSpec:
    """A field's API name and describe ``type`` (``string``, ``date``, ``address``, ...)."""

    name: str
    type: str
    # A compound field (``BillingAddress``): (JSON key, part field name) of each part.
    parts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ParentLink:
    """A lookup from a child to its parent: ``Account`` via ``AccountId`` to object ``Account``."""

    name: str
    field: str
    target: str


@dataclass(frozen=True)
class ChildLink:
    """A parent's child relationship: ``OpportunityLineItems`` via ``OpportunityId``."""

    name: str
    child_object: str
    field: str


@dataclass(frozen=True)
class ObjectShape:
    """What the evaluator needs to know about one sObject."""

    name: str
    fields: tuple[FieldSpec, ...]
    parents: tuple[ParentLink, ...] = ()
    children: tuple[ChildLink, ...] = ()


class RecordSource(Protocol):
    """Read access to the records a query runs over."""

    def shape(self, object_name: str) -> ObjectShape | None:
        """Return the object's shape (``object_name`` in any casing), or None when unknown."""
        ...

    def records(self, object_name: str, *, include_deleted: bool) -> Iterable[Record]:
        """Return every record of the object; soft-deleted ones only when ``include_deleted``."""
        ...

    def record(self, object_name: str, record_id: str) -> Record | None:
        """Return one live record by its id, or None."""
        ...

    def children(
        self, link: ChildLink, parent_id: str, *, include_deleted: bool
    ) -> Iterable[Record]:
        """Return the records of ``link.child_object`` whose ``link.field`` is ``parent_id``."""
        ...
