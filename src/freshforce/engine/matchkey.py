"""Match keys: organisation names and e-mail addresses normalised so one business compares equal.

``Acme, Inc.``, ``ACME Incorporated`` and ``acme`` are one organisation; ``Smith & Sons Ltd``
and ``smith and sons limited`` are another. A key carries its kind (``org:acme``,
``email:ann@acme.com``) so the two never collide. The store keeps a link's keys (link_keys)
and locks on them (match_locks); both take the strings made here.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["email_key", "organisation_key"]

# Legal-form words dropped from the end of a name, repeatedly ("Acme Holdings Ltd Co" keeps
# "holdings": only legal forms go). Compared after punctuation is gone, so "l.l.c." is "llc".
_LEGAL_FORMS = frozenset(
    {
        "inc",
        "incorporated",
        "corp",
        "corporation",
        "co",
        "company",
        "llc",
        "llp",
        "lp",
        "ltd",
        "limited",
        "plc",
        "gmbh",
        "ag",
        "kg",
        "sa",
        "sarl",
        "sas",
        "bv",
        "nv",
        "srl",
        "spa",
        "pty",
        "pte",
        "oy",
        "ab",
        "as",
        "aps",
    }
)
_DOTTED = re.compile(r"\b(?:[a-z]\.){2,}")  # "l.l.c." → "llc", before punctuation becomes space
_NOT_WORD = re.compile(r"[^\w]+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def organisation_key(name: str | None) -> str | None:
    """Return ``org:<words>`` for an organisation name, or ``None`` when nothing is left."""
    if name is None:
        return None
    text = unicodedata.normalize("NFKC", name).casefold()
    text = _DOTTED.sub(lambda m: m.group(0).replace(".", ""), text)
    text = text.replace("&", " and ").replace("+", " and ")
    words = _NOT_WORD.sub(" ", text).replace("_", " ").split()
    while len(words) > 1 and words[0] == "the":
        words.pop(0)
    while len(words) > 1 and words[-1] in _LEGAL_FORMS:
        words.pop()
    return f"org:{' '.join(words)}" if words else None


def email_key(address: str | None) -> str | None:
    """Return ``email:<address>`` trimmed and in lower case, or ``None`` for no address."""
    if address is None:
        return None
    text = unicodedata.normalize("NFKC", address).strip().casefold()
    return f"email:{text}" if _EMAIL.fullmatch(text) else None
