"""Checks one field value a client sent against the field's metadata and converts it for storage.

Text is trimmed of nothing but stored as ``None`` when empty (Salesforce keeps no empty strings),
numbers become floats rounded to the field's scale, dates and datetimes their wire strings, ids
their 18-character form. Anything else raises the error Salesforce answers with.
"""

from __future__ import annotations

import re

from freshforce.sandbox.salesforce.changes import FieldValue
from freshforce.sandbox.salesforce.errors import (
    invalid_email,
    json_parser_error,
    malformed_id,
    restricted_picklist,
    string_too_long,
)
from freshforce.sandbox.salesforce.ids import normalise_id
from freshforce.sandbox.salesforce.objects import FieldSpec
from freshforce.sandbox.salesforce.wire import (
    format_date,
    format_datetime,
    parse_date,
    parse_datetime,
)

__all__ = ["coerce_value"]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NUMERIC = frozenset({"currency", "double", "percent"})


def _cannot_deserialize(spec: FieldSpec, value: object) -> Exception:
    kind = type(value).__name__
    return json_parser_error(
        f"Cannot deserialize instance of {spec.type} from {kind} value {value!r} "
        f"or request may be missing a required field at [field {spec.name}]"
    )


def _text(spec: FieldSpec, value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _cannot_deserialize(spec, value)
    text = value if isinstance(value, str) else str(value)
    if text == "":
        return None
    if spec.length and len(text) > spec.length:
        raise string_too_long(spec.name, text, spec.length)
    if spec.type == "email" and not _EMAIL.match(text):
        raise invalid_email(spec.name, text)
    if spec.type == "picklist" and spec.restricted_picklist and text not in spec.picklist_values:
        raise restricted_picklist(spec.name, text)
    return text


def _number(spec: FieldSpec, value: object) -> float | int:
    if isinstance(value, bool):
        raise _cannot_deserialize(spec, value)
    try:
        number = float(value) if isinstance(value, str | int | float) else None
    except ValueError:
        number = None
    if number is None:
        raise _cannot_deserialize(spec, value)
    if spec.type == "int":
        return int(number)
    return round(number, spec.scale) if spec.type in _NUMERIC else number


def _boolean(spec: FieldSpec, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    raise _cannot_deserialize(spec, value)


def _temporal(spec: FieldSpec, value: object) -> str:
    if not isinstance(value, str):
        raise _cannot_deserialize(spec, value)
    try:
        if spec.type == "date":
            return format_date(parse_date(value))
        return format_datetime(parse_datetime(value))
    except ValueError:
        raise _cannot_deserialize(spec, value) from None


def _reference(spec: FieldSpec, value: object) -> str | None:
    if not isinstance(value, str):
        raise _cannot_deserialize(spec, value)
    if value == "":
        return None
    try:
        return normalise_id(value)
    except ValueError:
        raise malformed_id(spec.name, value) from None


def coerce_value(spec: FieldSpec, value: object) -> FieldValue:
    """Return ``value`` as stored for ``spec``, or raise the matching ``SalesforceError``."""
    if value is None:
        return False if spec.type == "boolean" else None
    if spec.type == "boolean":
        return _boolean(spec, value)
    if spec.type in {"currency", "double", "percent", "int"}:
        return _number(spec, value)
    if spec.type in {"date", "datetime"}:
        return _temporal(spec, value)
    if spec.type in {"reference", "id"}:
        return _reference(spec, value)
    return _text(spec, value)
