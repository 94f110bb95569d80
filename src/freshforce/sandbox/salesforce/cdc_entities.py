"""The change-event shape of each sandbox object, derived from its ``objects.py`` metadata.

Change events leave out ``Id`` (the header's ``recordIds`` carries it), ``SystemModstamp`` and
``IsDeleted``. Address parts fold into a compound ``<Prefix>Address`` record and a person's name
parts into a compound ``Name`` record, placed where their first part was, as Salesforce does;
``changedFields`` then names them ``BillingAddress.City`` or ``Name.LastName``.
"""

from __future__ import annotations

from collections.abc import Iterable

from freshforce.sandbox.salesforce.avro import CdcEntity, CdcField, FieldKind
from freshforce.sandbox.salesforce.objects import FieldSpec, ObjectCatalog, ObjectSpec

__all__ = ["CatalogEntities", "cdc_entities", "cdc_entity"]

_LEFT_OUT = frozenset({"Id", "SystemModstamp", "IsDeleted"})
_ADDRESS_PARTS = (
    "Street",
    "City",
    "State",
    "PostalCode",
    "Country",
    "Latitude",
    "Longitude",
    "GeocodeAccuracy",
)
_ADDRESS_PREFIXES = ("Billing", "Shipping", "Mailing", "Other")
_NAME_PARTS = ("Salutation", "FirstName", "LastName")
_KINDS: dict[str, FieldKind] = {
    "boolean": "boolean",
    "currency": "double",
    "double": "double",
    "percent": "double",
    "int": "int",
    "date": "date",
    "datetime": "datetime",
}


def _kind(spec: FieldSpec) -> FieldKind:
    return _KINDS.get(spec.type, "string")


def _compounds(obj: ObjectSpec) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Map each compound part's REST name to (compound name, part names)."""
    owners: dict[str, tuple[str, tuple[str, ...]]] = {}
    names = set(obj.field_names())
    for prefix in _ADDRESS_PREFIXES:
        parts = tuple(p for p in _ADDRESS_PARTS if f"{prefix}{p}" in names)
        for part in parts:
            owners[f"{prefix}{part}"] = (f"{prefix}Address", parts)
    name_field = obj.field("Name")
    if name_field is not None and name_field.calculated and {"FirstName", "LastName"} <= names:
        parts = tuple(p for p in _NAME_PARTS if p in names)
        owners.update(dict.fromkeys(parts, ("Name", parts)))
    return owners


def _compound_field(obj: ObjectSpec, name: str, parts: tuple[str, ...]) -> CdcField:
    prefix = name.removesuffix("Address") if name.endswith("Address") else ""
    members = []
    for part in parts:
        spec = obj.field(prefix + part)
        if spec is not None:
            members.append(CdcField(part, _kind(spec), source=spec.name))
    return CdcField(name, "compound", tuple(members))


def cdc_entity(obj: ObjectSpec) -> CdcEntity:
    """Return the change-event shape of one object."""
    owners = _compounds(obj)
    fields: list[CdcField] = []
    placed: set[str] = set()
    # The calculated full name gives way to the compound Name record built from its parts.
    left_out = _LEFT_OUT | ({"Name"} if any(o[0] == "Name" for o in owners.values()) else set())
    for spec in obj.fields:
        if spec.name in left_out or spec.type == "address":
            continue  # the read-only compound is rebuilt from its parts below
        owner = owners.get(spec.name)
        if owner is None:
            fields.append(CdcField(spec.name, _kind(spec)))
        elif owner[0] not in placed:
            placed.add(owner[0])
            fields.append(_compound_field(obj, *owner))
    return CdcEntity(obj.name, tuple(fields))


def cdc_entities(catalog: ObjectCatalog, selected: Iterable[str] | None = None) -> list[CdcEntity]:
    """Return the shapes of the objects with change data capture on (all, unless ``selected``)."""
    wanted = None if selected is None else {name.lower() for name in selected}
    return [cdc_entity(obj) for obj in catalog if wanted is None or obj.name.lower() in wanted]


class CatalogEntities:
    """The CDC entities of a live catalog, rebuilt only for objects that changed.

    Objects are immutable and replaced when a field is added, so an object seen before (the
    same instance) keeps its entity; asking costs a dictionary lookup per object.
    """

    def __init__(self, catalog: ObjectCatalog, selected: Iterable[str] | None = None) -> None:
        self._catalog = catalog
        self._wanted = None if selected is None else {name.lower() for name in selected}
        self._seen: dict[str, tuple[ObjectSpec, CdcEntity]] = {}

    def __call__(self) -> list[CdcEntity]:
        entities = []
        for obj in self._catalog:
            if self._wanted is not None and obj.name.lower() not in self._wanted:
                continue
            seen = self._seen.get(obj.name)
            if seen is None or seen[0] is not obj:
                seen = (obj, cdc_entity(obj))
                self._seen[obj.name] = seen
            entities.append(seen[1])
        return entities
