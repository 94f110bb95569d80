"""Avro change-event schemas and payloads: what the Pub/Sub server sends for each change record.

One schema per entity, built from its field metadata: record ``<Entity>ChangeEvent`` in namespace
``com.sforce.eventbus``, the ``ChangeEventHeader`` first, then every field as ``["null", T]``
defaulting to null (compound fields as a nested optional record). Datetimes are ``long`` epoch
milliseconds and dates ``int`` days since the epoch. Payloads are Avro binary without a container
header; the schema id is a hash of the schema JSON, so an unchanged schema keeps its id.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal, get_args

import fastavro

from freshforce.sandbox.salesforce.bitmap import BitmapLayout, encode_bitmap
from freshforce.sandbox.salesforce.changes import ChangeRecord, ChangeType, FieldValue

__all__ = [
    "CHANGE_TYPES",
    "NAMESPACE",
    "CdcEntity",
    "CdcField",
    "EventSchema",
    "change_event_schema",
    "decode_payload",
    "encode_change",
    "encode_payload",
    "encode_platform_event",
    "platform_event_schema",
]

NAMESPACE = "com.sforce.eventbus"
CHANGE_TYPES: tuple[str, ...] = get_args(ChangeType)
FieldKind = Literal["string", "boolean", "int", "double", "datetime", "date", "compound"]
_AVRO_TYPES: dict[str, str] = {
    "string": "string",
    "boolean": "boolean",
    "int": "int",
    "double": "double",
    "datetime": "long",
    "date": "int",
}
_DOC_TYPES = {"datetime": "DateTime", "date": "Date"}
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# An Avro schema or record as plain JSON-like data: the wire format of fastavro.
AvroJson = dict[str, Any]


@dataclass(frozen=True)
class CdcField:
    """One field of a change event; ``source`` is its REST name if it differs (``BillingCity``)."""

    name: str
    kind: FieldKind
    parts: tuple[CdcField, ...] = ()
    source: str | None = None

    @property
    def api_name(self) -> str:
        return self.source or self.name


@dataclass(frozen=True)
class CdcEntity:
    """An entity with change data capture enabled, and the fields its events carry."""

    name: str
    fields: tuple[CdcField, ...]


@dataclass(frozen=True)
class EventSchema:
    """A registered Avro schema: its id, JSON text, parsed form and bitmap layout."""

    schema_id: str
    schema_json: str
    parsed: Any = field(repr=False)  # fastavro's parsed schema, opaque
    layout: BitmapLayout
    entity: CdcEntity | None = None
    # REST name of each compound part -> its event path (``BillingCity`` -> ``BillingAddress.City``)
    paths: Mapping[str, str] = field(default_factory=dict, repr=False)


def _schema_id(schema_json: str) -> str:
    digest = hashlib.sha256(schema_json.encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _avro_field(spec: CdcField) -> AvroJson:
    if spec.kind == "compound":
        if not spec.parts:
            raise ValueError(f"compound field {spec.name} has no parts")
        nested: Any = {
            "type": "record",
            "name": spec.name,
            "fields": [_avro_field(part) for part in spec.parts],
        }
        return {"name": spec.name, "type": ["null", nested], "default": None}
    out: AvroJson = {"name": spec.name, "type": ["null", _AVRO_TYPES[spec.kind]], "default": None}
    if spec.kind in _DOC_TYPES:
        out["doc"] = f"{spec.name}:{_DOC_TYPES[spec.kind]}"
    return out


def _header_schema() -> AvroJson:
    strings = {"type": "array", "items": "string"}
    return {
        "type": "record",
        "name": "ChangeEventHeader",
        "fields": [
            {"name": "entityName", "type": "string"},
            {"name": "recordIds", "type": strings},
            {
                "name": "changeType",
                "type": {"type": "enum", "name": "ChangeType", "symbols": list(CHANGE_TYPES)},
            },
            {"name": "changeOrigin", "type": "string"},
            {"name": "transactionKey", "type": "string"},
            {"name": "sequenceNumber", "type": "int"},
            {"name": "commitTimestamp", "type": "long"},
            {"name": "commitNumber", "type": "long"},
            {"name": "commitUser", "type": "string"},
            {"name": "nulledFields", "type": strings},
            {"name": "diffFields", "type": strings},
            {"name": "changedFields", "type": strings},
        ],
    }


def _register(schema: AvroJson, layout: BitmapLayout, entity: CdcEntity | None) -> EventSchema:
    text = json.dumps(schema, separators=(",", ":"))
    parsed = fastavro.parse_schema(schema)
    paths = {} if entity is None else _part_paths(entity)
    return EventSchema(_schema_id(text), text, parsed, layout, entity, paths)


def _part_paths(entity: CdcEntity) -> dict[str, str]:
    return {
        part.api_name: f"{spec.name}.{part.name}" for spec in entity.fields for part in spec.parts
    }


def change_event_schema(entity: CdcEntity) -> EventSchema:
    """Build the ``<Entity>ChangeEvent`` schema; the header is ``fields[0]``."""
    fields = [{"name": "ChangeEventHeader", "type": _header_schema()}]
    fields += [_avro_field(spec) for spec in entity.fields]
    schema = {
        "type": "record",
        "name": f"{entity.name.removesuffix('__c')}{'__' if entity.name.endswith('__c') else ''}"
        "ChangeEvent",
        "namespace": NAMESPACE,
        "fields": fields,
    }
    layout = BitmapLayout(
        fields=("ChangeEventHeader", *(spec.name for spec in entity.fields)),
        parts={
            index: tuple(part.name for part in spec.parts)
            for index, spec in enumerate(entity.fields, start=1)
            if spec.kind == "compound"
        },
    )
    return _register(schema, layout, entity)


def platform_event_schema(name: str, fields: tuple[CdcField, ...]) -> EventSchema:
    """Build the schema of platform event ``name`` (``X__e``): CreatedDate, CreatedById, fields."""
    if not name.endswith("__e"):
        raise ValueError(f"platform event {name!r}: the name must end in '__e'")
    schema = {
        "type": "record",
        "name": name,
        "namespace": NAMESPACE,
        "fields": [
            {"name": "CreatedDate", "type": "long", "doc": "CreatedDate:DateTime"},
            {"name": "CreatedById", "type": "string"},
            *(_avro_field(spec) for spec in fields),
        ],
    }
    names = ("CreatedDate", "CreatedById", *(spec.name for spec in fields))
    return _register(schema, BitmapLayout(fields=names, parts={}), None)


def _datetime_ms(text: str) -> int:
    # Python 3.11 reads Salesforce's "2013-05-20T20:49:32.000+0000" (and "Z") natively.
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _to_int(value: FieldValue) -> FieldValue:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError


def _to_double(value: FieldValue) -> FieldValue:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise TypeError


def _to_datetime(value: FieldValue) -> FieldValue:
    return _datetime_ms(value) if isinstance(value, str) else _to_int(value)


def _to_date(value: FieldValue) -> FieldValue:
    if isinstance(value, str):
        return date.fromisoformat(value).toordinal() - _EPOCH_ORDINAL
    return _to_int(value)


def _of_type(kind: type[str | bool]) -> Callable[[FieldValue], FieldValue]:
    def check(value: FieldValue) -> FieldValue:
        if isinstance(value, kind):
            return value
        raise TypeError

    return check


_CONVERTERS: dict[str, Callable[[FieldValue], FieldValue]] = {
    "string": _of_type(str),
    "boolean": _of_type(bool),
    "int": _to_int,
    "double": _to_double,
    "datetime": _to_datetime,
    "date": _to_date,
}


def _convert(kind: FieldKind, value: FieldValue, where: str) -> FieldValue:
    """Turn a REST value into its Avro form, or say which field got which wrong value."""
    if value is None:
        return None
    try:
        return _CONVERTERS[kind](value)
    except (TypeError, ValueError) as exc:
        detail = f": {exc}" if str(exc) else ""
        raise ValueError(
            f"{where}: cannot encode {value!r} ({type(value).__name__}) as {kind}{detail}"
        ) from exc


def _lookup(values: Mapping[str, FieldValue], spec: CdcField, path: str) -> tuple[bool, FieldValue]:
    for key in (spec.api_name, path):
        if key in values:
            return True, values[key]
    return False, None


def _body(entity: CdcEntity, values: Mapping[str, FieldValue]) -> dict[str, object]:
    body: dict[str, object] = {}
    for spec in entity.fields:
        where = f"{entity.name}.{spec.name}"
        if spec.kind != "compound":
            body[spec.name] = _convert(spec.kind, _lookup(values, spec, spec.name)[1], where)
            continue
        nested: dict[str, FieldValue] = {}
        present = False
        for part in spec.parts:
            found, value = _lookup(values, part, f"{spec.name}.{part.name}")
            present = present or found
            nested[part.name] = _convert(part.kind, value, f"{where}.{part.name}")
        body[spec.name] = nested if present else None
    return body


def _paths(schema: EventSchema, names: tuple[str, ...]) -> list[str]:
    """Map REST names onto event paths (``BillingCity`` → ``BillingAddress.City``).

    Names the event leaves out (``Id``, ``SystemModstamp``, a compound's calculated whole) drop.
    """
    paths = [schema.paths.get(name, name) for name in names]
    return [path for path in dict.fromkeys(paths) if schema.layout.knows(path)]


def _header(schema: EventSchema, change: ChangeRecord) -> dict[str, object]:
    def bitmap(names: tuple[str, ...]) -> list[str]:
        return encode_bitmap(schema.layout, _paths(schema, names))

    return {
        "entityName": change.entity_name,
        "recordIds": list(change.record_ids),
        "changeType": change.change_type,
        "changeOrigin": change.change_origin,
        "transactionKey": change.transaction_key,
        "sequenceNumber": change.sequence_number,
        "commitTimestamp": change.commit_timestamp_ms,
        "commitNumber": change.commit_number,
        "commitUser": change.commit_user,
        "nulledFields": bitmap(change.nulled_fields),
        "diffFields": bitmap(change.diff_fields),
        "changedFields": bitmap(change.changed_fields),
    }


def encode_payload(schema: EventSchema, record: Mapping[str, object]) -> bytes:
    """Avro-encode ``record`` with ``schema``, binary, without a container header."""
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, schema.parsed, dict(record))
    return buffer.getvalue()


def decode_payload(schema: EventSchema, payload: bytes) -> dict[str, Any]:
    """Decode an Avro payload written with ``schema``; any malformed payload raises ValueError."""
    try:
        record: object = fastavro.schemaless_reader(io.BytesIO(payload), schema.parsed, None)
    except (EOFError, ValueError, TypeError, IndexError, UnicodeDecodeError) as exc:
        raise ValueError(f"payload does not match schema {schema.schema_id}: {exc}") from exc
    if not isinstance(record, dict):
        raise TypeError(f"payload of schema {schema.schema_id} is not a record")
    return record


def encode_change(schema: EventSchema, change: ChangeRecord) -> bytes:
    """Encode one change record as its entity's change event (all fields null for DELETE/GAP_*)."""
    entity = schema.entity
    if entity is None or entity.name != change.entity_name:
        raise ValueError(f"schema {schema.schema_id} is not the {change.entity_name} change event")
    carries_body = change.change_type in {"CREATE", "UPDATE", "UNDELETE"}
    values = change.fields if carries_body else {}
    record: dict[str, object] = {"ChangeEventHeader": _header(schema, change)}
    record.update(_body(entity, values))
    return encode_payload(schema, record)


def encode_platform_event(
    schema: EventSchema,
    fields: tuple[CdcField, ...],
    values: Mapping[str, object],
    created_ms: int,
    created_by: str,
) -> bytes:
    """Encode a published event's REST values (absent fields null) with its event schema."""
    record: dict[str, object] = {"CreatedDate": created_ms, "CreatedById": created_by}
    for spec in fields:
        value = values.get(spec.name)
        if value is not None and not isinstance(value, str | bool | int | float):
            raise ValueError(f"{spec.name}: cannot encode {type(value).__name__} as {spec.kind}")
        record[spec.name] = _convert(spec.kind, value, spec.name)
    return encode_payload(schema, record)
