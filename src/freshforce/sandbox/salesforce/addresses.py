"""Compound address fields: ``BillingAddress`` read as one nested object built from its parts.

An address is stored as its parts (``BillingStreet``, ``BillingCity``, …); the compound field
(describe type ``address``) is never stored or written, only read. REST and SOQL show it as
``{"city","country","geocodeAccuracy","latitude","longitude","postalCode","state","street"}``
(Salesforce's key order), or ``null`` when every part is empty.
"""

from __future__ import annotations

from collections.abc import Mapping

from freshforce.sandbox.salesforce.changes import FieldValue
from freshforce.sandbox.salesforce.objects import FieldSpec, ObjectSpec

__all__ = ["address_parts", "field_value"]

# JSON key of each part -> the suffix of its field name after the prefix (``Billing``).
_KEYS: tuple[tuple[str, str], ...] = (
    ("city", "City"),
    ("country", "Country"),
    ("geocodeAccuracy", "GeocodeAccuracy"),
    ("latitude", "Latitude"),
    ("longitude", "Longitude"),
    ("postalCode", "PostalCode"),
    ("state", "State"),
    ("street", "Street"),
)


def address_parts(spec: ObjectSpec, field: FieldSpec) -> tuple[tuple[str, str], ...]:
    """Return (JSON key, part field name) for a compound address field; () for other fields."""
    if field.type != "address":
        return ()
    prefix = field.name.removesuffix("Address")
    return tuple(
        (key, f"{prefix}{suffix}") for key, suffix in _KEYS if spec.field(f"{prefix}{suffix}")
    )


def _compound_value(
    parts: tuple[tuple[str, str], ...], record: Mapping[str, FieldValue]
) -> dict[str, FieldValue] | None:
    """Return the nested address of ``record`` from ``parts``, or None when all are empty."""
    value = {key: record.get(name) for key, name in parts}
    return value if any(v is not None for v in value.values()) else None


def field_value(spec: ObjectSpec, record: Mapping[str, FieldValue], name: str) -> object:
    """Return field ``name`` of ``record`` as REST shows it (compounds built from their parts)."""
    field = spec.field(name)
    if field is None or field.type != "address":
        return record.get(name)
    return _compound_value(address_parts(spec, field), record)
