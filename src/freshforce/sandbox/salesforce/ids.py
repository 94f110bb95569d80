"""Salesforce record ids: key prefixes, the case-safe 18-character checksum, and minting.

A 15-character id is case-sensitive base 62; the API returns 18 characters, the last three being a
checksum of where the upper-case letters are, so the id survives case-insensitive systems.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = [
    "KEY_PREFIXES",
    "IdMinter",
    "is_valid_id",
    "key_prefix",
    "normalise_id",
    "to_18",
]

KEY_PREFIXES: dict[str, str] = {
    "Account": "001",
    "Contact": "003",
    "User": "005",
    "Opportunity": "006",
    "OpportunityLineItem": "00k",
    "OpportunityContactRole": "00K",
    "Pricebook2": "01s",
    "Product2": "01t",
    "PricebookEntry": "01u",
    "Order": "801",
    "OrderItem": "802",
    "Lead": "00Q",
    "CurrencyType": "02g",  # UNCONFIRMED
    "DatedConversionRate": "04w",  # UNCONFIRMED
    "Organization": "00D",
    "QueryLocator": "01g",
    "BulkJob": "750",
}

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID15 = re.compile(r"[0-9A-Za-z]{15}")
_ID18 = re.compile(r"[0-9A-Za-z]{18}")


def _checksum(id15: str) -> str:
    suffix = []
    for chunk_start in (0, 5, 10):
        chunk = id15[chunk_start : chunk_start + 5]
        flags = sum(1 << j for j, char in enumerate(chunk) if "A" <= char <= "Z")
        suffix.append(_CHECKSUM_ALPHABET[flags])
    return "".join(suffix)


def to_18(id15: str) -> str:
    """Return the 18-character form of a 15-character id (18-character ids pass through)."""
    if _ID18.fullmatch(id15):
        return id15[:15] + _checksum(id15[:15])
    if not _ID15.fullmatch(id15):
        raise ValueError(f"not a Salesforce id (15 or 18 letters and digits): {id15!r}")
    return id15 + _checksum(id15)


def is_valid_id(value: str) -> bool:
    """Say whether ``value`` is a well-formed 15- or 18-character id with a matching checksum."""
    if _ID15.fullmatch(value):
        return True
    if not _ID18.fullmatch(value):
        return False
    return value[15:].upper() == _checksum(value[:15])


def normalise_id(value: str) -> str:
    """Return the canonical 18-character id for a 15- or 18-character input, or raise ValueError.

    The checksum of an 18-character input may arrive in any case (that is its purpose); the
    canonical form has it upper-case.
    """
    if not is_valid_id(value):
        raise ValueError(f"malformed Salesforce id: {value!r}")
    return to_18(value[:15])


def key_prefix(record_id: str) -> str:
    """Return the three-character key prefix naming the id's object."""
    return record_id[:3]


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        digits.append(_BASE62[digit])
    if number:
        raise OverflowError("id counter exhausted")
    return "".join(reversed(digits))


@dataclass
class IdMinter:
    """Mints new 18-character ids: key prefix, a two-character pod, a per-prefix counter.

    ``pod`` plays the part of the instance identifier real ids carry; ``start`` lets two minters
    (say, two sandboxes) hand out ids that never collide.
    """

    pod: str = "8d"
    start: int = 1
    _counters: dict[str, int] = field(default_factory=dict)

    def mint(self, prefix: str) -> str:
        """Return the next id for objects with key ``prefix``."""
        number = self._counters.get(prefix, self.start)
        self._counters[prefix] = number + 1
        return to_18(prefix + self.pod + _base62(number, 10))

    def reset(self) -> None:
        """Start every counter again (sandbox reset)."""
        self._counters.clear()
