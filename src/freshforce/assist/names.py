"""How alike two field names are: split, strip, expand abbreviations, then compare fuzzily.

``words("p_street2")`` is ``("billing", "street")``; ``words("ns__Mobile_Phone__c")`` is
``("mobile", "phone")``. The synonym table expands the abbreviations FreshBooks uses (``p_``/``s_``
address prefixes, ``bus``/``mob``, ``fname``/``lname``, ``amt``, ``qty``, ``inv``, ``pymt``); a
tenant's accepted suggestions add pairs of their own (``learned``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

__all__ = ["NameMatch", "name_match", "words"]

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NAMESPACE = re.compile(r"^[A-Za-z][A-Za-z0-9]*__(?=[A-Za-z])")
_SEPARATORS = re.compile(r"[_\s.\-]+")
_DIGITS = re.compile(r"\d+$")
# Our own custom fields say "FreshBooks"; the word tells nothing about which field it is.
_VENDOR = re.compile(r"freshbooks[_\s]*", re.IGNORECASE)

# A whole word and what it stands for; the first word of a FreshBooks name gets _PREFIXES too.
_SYNONYMS: Mapping[str, tuple[str, ...]] = {
    "bus": ("business",),
    "mob": ("mobile",),
    "cell": ("mobile",),
    "fname": ("first", "name"),
    "lname": ("last", "name"),
    "amt": ("amount",),
    "amount": ("amount", "total"),
    "outstanding": ("balance",),
    "cost": ("price",),
    "qty": ("quantity",),
    "inv": ("invoice",),
    "pymt": ("payment",),
    "pmt": ("payment",),
    "num": ("number",),
    "no": ("number",),
    "desc": ("description",),
    "addr": ("address",),
    "organization": ("company", "account", "name"),
    "organisation": ("company", "account", "name"),
    "org": ("company", "account", "name"),
    "province": ("state",),
    "zip": ("postal", "code"),
    "postcode": ("postal", "code"),
    "email": ("email",),
    "note": ("description",),
    "notes": ("description",),
    "currency": ("currency", "iso", "code"),
    "tel": ("phone",),
    "url": ("url", "website"),
    "web": ("website",),
    "userid": ("user", "id"),
    "clientid": ("client", "id"),
    "invoiceid": ("invoice", "id"),
}
# Address prefixes: p_ is the primary (billing) address, s_ the secondary (shipping) one.
_PREFIXES: Mapping[str, tuple[str, ...]] = {"p": ("billing",), "s": ("shipping",)}
# Words that add nothing to a comparison.
_NOISE = frozenset({"c", "the", "of", "freshbooks"})
# A bare "code" after an address prefix is the postal code.
_ADDRESS_CODE = ("postal", "code")


def _raw_words(name: str) -> list[str]:
    bare = _VENDOR.sub("", _NAMESPACE.sub("", name.removesuffix("__c")))
    return [w.lower() for part in _SEPARATORS.split(bare) for w in _CAMEL.split(part) if w]


def words(name: str, *, learned: Mapping[str, Sequence[str]] | None = None) -> tuple[str, ...]:
    """Return the expanded, lower-case words of a field name or label."""
    raw = _raw_words(name)
    out: list[str] = []
    for index, word in enumerate(raw):
        stem = _DIGITS.sub("", word) or word
        if index == 0 and stem in _PREFIXES and len(raw) > 1:
            out.extend(_PREFIXES[stem])
            if raw[1:] == ["code"]:
                out.extend(_ADDRESS_CODE)
                break
            continue
        if learned and stem in learned:
            out.extend(learned[stem])
        else:
            out.extend(_SYNONYMS.get(stem, (stem,)))
    return tuple(w for w in out if w not in _NOISE)


@dataclass(frozen=True)
class NameMatch:
    """How well a source name matches a target's API name and label (0..1), and why."""

    score: float
    via: str  # "name" or "label"
    reason: str


def _similarity(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    left, right = " ".join(a), " ".join(b)
    if not left or not right:
        return 0.0
    if a == b:
        return 1.0
    # token_set_ratio forgives extra words; the sorted ratio and the word overlap keep "Phone"
    # below "MobilePhone" when the source says "mobile", and "Amount" below "Amount Paid".
    fuzzy = 0.5 * fuzz.token_set_ratio(left, right) + 0.5 * fuzz.token_sort_ratio(left, right)
    return 0.7 * fuzzy / 100.0 + 0.3 * _dice(set(a), set(b))


def _dice(a: set[str], b: set[str]) -> float:
    """Return the Dice coefficient of two word sets: words either side lacks count against."""
    return 2 * len(a & b) / (len(a) + len(b))


def name_match(
    source: str,
    target_name: str,
    target_label: str,
    *,
    learned: Mapping[str, Sequence[str]] | None = None,
) -> NameMatch:
    """Compare ``source`` with a target's API name and its describe label; keep the better."""
    mine = words(source, learned=learned)
    by_name = _similarity(mine, words(target_name))
    by_label = _similarity(mine, words(target_label)) if target_label else 0.0
    if by_label > by_name:
        return NameMatch(by_label, "label", f"label {target_label!r} ~ {source!r}")
    return NameMatch(by_name, "name", f"name {target_name} ~ {source!r}")
