"""Renders object metadata as Salesforce's describe JSON: global, per object and per field."""

from __future__ import annotations

from freshforce.sandbox.salesforce.objects import FieldSpec, FieldType, ObjectCatalog, ObjectSpec
from freshforce.sandbox.salesforce.platform_events import EventDefinition

__all__ = [
    "describe_event",
    "describe_global",
    "describe_object",
    "event_summary",
    "object_summary",
]

# Describe bodies are JSON documents; values are str, int, bool, None, lists and dicts.
JSONValue = object

_BYTE_FACTOR = 3  # describe reports byteLength as three bytes per character
_NOT_FILTERABLE = frozenset({"textarea", "address"})


def _urls(version: str, spec: ObjectSpec) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{spec.name}"
    return {
        "sobject": base,
        "describe": f"{base}/describe",
        "rowTemplate": f"{base}/{{ID}}",
    }


def object_summary(version: str, spec: ObjectSpec) -> dict[str, JSONValue]:
    """Return the short form of an object, as listed by ``GET sobjects``."""
    return {
        "name": spec.name,
        "label": spec.label,
        "labelPlural": spec.label_plural,
        "keyPrefix": spec.key_prefix,
        "custom": spec.custom,
        "createable": True,
        "updateable": True,
        "deletable": True,
        "undeletable": True,
        "queryable": True,
        "retrieveable": True,
        "searchable": True,
        "layoutable": True,
        "replicateable": True,
        "triggerable": True,
        "mergeable": spec.name in {"Account", "Contact"},
        "customSetting": False,
        "deprecatedAndHidden": False,
        "feedEnabled": False,
        "activateable": False,
        "urls": _urls(version, spec),
    }


def describe_global(
    version: str, catalog: ObjectCatalog, events: list[EventDefinition] | None = None
) -> dict[str, JSONValue]:
    """Return the body of ``GET sobjects``: the objects, then the platform events."""
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [
            *(object_summary(version, spec) for spec in catalog),
            *(event_summary(version, definition) for definition in events or ()),
        ],
    }


def describe_object(version: str, catalog: ObjectCatalog, spec: ObjectSpec) -> dict[str, JSONValue]:
    """Return the body of ``GET sobjects/{Obj}/describe``."""
    children = [
        {
            "childSObject": rel.child_sobject,
            "field": rel.field,
            "relationshipName": rel.relationship_name,
            "cascadeDelete": False,
            "deprecatedAndHidden": False,
        }
        for rel in catalog.child_relationships(spec.name)
    ]
    return {
        **object_summary(version, spec),
        "fields": [_field(f) for f in spec.fields],
        "childRelationships": children,
        "recordTypeInfos": [],
    }


def _field(spec: FieldSpec) -> dict[str, JSONValue]:
    picklist = [
        {"value": v, "label": v, "active": True, "defaultValue": False, "validFor": None}
        for v in spec.picklist_values
    ]
    return {
        "name": spec.name,
        "label": spec.label or spec.name.removesuffix("__c").replace("_", " "),
        "type": spec.type,
        "soapType": spec.soap_type,
        "length": spec.length if spec.is_text or spec.type in {"id", "reference"} else 0,
        "byteLength": spec.length * _BYTE_FACTOR if spec.is_text else 0,
        "precision": spec.precision,
        "scale": spec.scale,
        "digits": spec.precision if spec.type == "int" else 0,
        "nillable": spec.nillable,
        "createable": spec.createable,
        "updateable": spec.updateable,
        "defaultedOnCreate": spec.defaulted_on_create,
        "unique": spec.unique,
        "externalId": spec.external_id,
        "idLookup": spec.name == "Id" or spec.external_id,
        "calculated": spec.calculated,
        "custom": spec.custom,
        "nameField": spec.name_field,
        "caseSensitive": False,
        "filterable": spec.type not in _NOT_FILTERABLE,
        "sortable": spec.type not in _NOT_FILTERABLE,
        "groupable": spec.type
        not in {*_NOT_FILTERABLE, "currency", "double", "percent", "datetime"},
        "compoundFieldName": spec.compound_field_name,
        "autoNumber": False,
        "restrictedPicklist": spec.restricted_picklist,
        "picklistValues": picklist,
        "referenceTo": list(spec.reference_to),
        "relationshipName": spec.relationship_name,
        "cascadeDelete": False,
        "htmlFormatted": False,
        "deprecatedAndHidden": False,
        "defaultValue": None,
    }


_EVENT_FIELD_TYPES: dict[str, FieldType] = {
    "string": "string",
    "boolean": "boolean",
    "int": "int",
    "double": "double",
    "datetime": "datetime",
    "date": "date",
}


def _event_fields(definition: EventDefinition) -> list[FieldSpec]:
    standard = [
        FieldSpec("ReplayId", "string", "Replay ID", length=255, createable=False),
        FieldSpec("CreatedDate", "datetime", "Created Date", createable=False),
        FieldSpec("CreatedById", "reference", "Created By ID", length=18, createable=False),
        FieldSpec("EventUuid", "string", "Event UUID", length=36, createable=False),
    ]
    custom = [
        FieldSpec(
            f.name,
            _EVENT_FIELD_TYPES.get(f.kind, "string"),
            length=255 if f.kind == "string" else 0,
            precision=18 if f.kind == "double" else 0,
        )
        for f in definition.fields
    ]
    return standard + custom


def event_summary(version: str, definition: EventDefinition) -> dict[str, JSONValue]:
    """Return the short form of a platform event: creatable only (publish), never queryable."""
    base = f"/services/data/v{version}/sobjects/{definition.name}"
    label = definition.label or definition.name.removesuffix("__e").replace("_", " ")
    flags = ("updateable", "deletable", "undeletable", "queryable", "retrieveable", "searchable")
    return {
        "name": definition.name,
        "label": label,
        "labelPlural": label,
        "keyPrefix": "e00",
        "custom": True,
        "createable": True,
        **dict.fromkeys(flags, False),
        "layoutable": False,
        "replicateable": False,
        "triggerable": True,
        "mergeable": False,
        "customSetting": False,
        "deprecatedAndHidden": False,
        "feedEnabled": False,
        "activateable": False,
        "urls": {
            "sobject": base,
            "describe": f"{base}/describe",
            "eventSchema": f"{base}/eventSchema",
        },
    }


def describe_event(version: str, definition: EventDefinition) -> dict[str, JSONValue]:
    """Return the body of ``GET sobjects/X__e/describe``."""
    return {
        **event_summary(version, definition),
        "fields": [_field(f) for f in _event_fields(definition)],
        "childRelationships": [],
        "recordTypeInfos": [],
    }
