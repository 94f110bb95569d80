"""Write fingerprints: a stable hash of a record's field values as the target system echoes them.

When a flow writes a record, it fingerprints the record's whole mapped state as written (every
mapped field on that side, not only the changed ones: a user edit to another field in between
must not look like our echo). The change event our write causes then reads the record, hashes
what it finds the same way, and a match means "nothing new: our own echo".

Values are normalised the way the two systems echo them back, so an echo hashes equal:
key order never matters; ``None`` and ``""`` are one value (Salesforce answers null where
FreshBooks answers an empty string); numbers and decimal strings are one value (FreshBooks
Money amounts come back as ``"41.90"``, Salesforce currency as ``41.9``); an ISO datetime with
a zone is one instant in UTC at millisecond precision (Salesforce's ``...000+0000``); a date is
its ``YYYY-MM-DD``. Booleans stay booleans: ``True`` is not ``1``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

__all__ = ["fingerprint"]

# A decimal without a leading zero (so "07030", a postal code, stays text).
_DECIMAL = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?")
# A datetime with a zone (naive strings have no instant and stay text).
_ZONED = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})")

# JSON-like values as they come off the wire or out of the mapping: recursive and untyped.
Value = object


def fingerprint(values: Mapping[str, Value]) -> str:
    """Return the 64-hex-digit SHA-256 of ``values`` in their normalised form."""
    canonical = json.dumps(_normal(values), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _normal(value: Value) -> object:  # noqa: PLR0911 - one return per kind of wire value
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal):
        return _number(value)
    if isinstance(value, datetime):
        return ["t", _instant(value)]
    if isinstance(value, date):
        return ["s", value.isoformat()]  # as the wire carries it: "YYYY-MM-DD"
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, Mapping):
        return {str(k): _normal(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normal(v) for v in value]
    msg = f"cannot fingerprint a {type(value).__name__}: {value!r}"
    raise TypeError(msg)


def _number(value: float | Decimal) -> object:
    try:
        number = Decimal(str(value))
    except InvalidOperation:  # pragma: no cover - str() of a number always parses
        return ["s", str(value)]
    if not number.is_finite():
        return ["n", str(number)]
    normal = number.normalize()
    return ["n", format(normal if normal != 0 else Decimal(0), "f")]


def _text(value: str) -> object:
    if _DECIMAL.fullmatch(value):
        return _number(Decimal(value))
    if _ZONED.fullmatch(value):
        try:
            return ["t", _instant(datetime.fromisoformat(value))]
        except ValueError:
            return ["s", value]
    return ["s", value]


def _instant(value: datetime) -> str:
    if value.tzinfo is None:
        return value.isoformat(timespec="milliseconds")
    return value.astimezone(UTC).isoformat(timespec="milliseconds")
