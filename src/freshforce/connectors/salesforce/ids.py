"""Salesforce record ids: the 15 → 18 character case-safe form used everywhere in freshforce.

An 18-character id is the 15-character case-sensitive id plus a three-character checksum; for
each 5-character chunk, bit ``j`` is set when the chunk's ``j``-th character is upper case, and
the flags pick a character of ``A…Z0…5``. freshforce stores and compares only 18-character ids.
"""

from __future__ import annotations

import re

__all__ = ["to_18"]

_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Z0-5]{3})?")


def _checksum(id15: str) -> str:
    chunks = (id15[i : i + 5] for i in range(0, 15, 5))
    return "".join(
        _SUFFIX[sum(1 << j for j, char in enumerate(chunk) if "A" <= char <= "Z")]
        for chunk in chunks
    )


def to_18(record_id: str) -> str:
    """Return the 18-character form of a 15- or 18-character id.

    Raises ``ValueError`` naming the id when it is neither, or when an 18-character id's
    checksum does not match its first 15 characters.
    """
    if not _ID.fullmatch(record_id):
        msg = f"not a Salesforce id (15 or 18 letters and digits): {record_id!r}"
        raise ValueError(msg)
    expected = record_id[:15] + _checksum(record_id[:15])
    if len(record_id) == 18 and record_id != expected:  # noqa: PLR2004 - the long id's length
        msg = f"Salesforce id {record_id!r} has a wrong checksum (expected {expected!r})"
        raise ValueError(msg)
    return expected
