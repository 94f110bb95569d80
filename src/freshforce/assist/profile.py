"""What sampled values look like: e-mail, phone, date, money, ISO codes, countries, postal codes.

``profile(values)`` names the kind most of the non-empty values share (``None`` when they
disagree or there are none), so the scorer can ask whether a target's type can hold them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

import pycountry

__all__ = ["Kind", "normalise", "profile"]


class Kind(StrEnum):
    """The kinds of value the profiler tells apart."""

    EMAIL = "e-mail"
    PHONE = "phone"
    URL = "URL"
    DATE = "date"
    DATETIME = "date-time"
    BOOLEAN = "boolean"
    INTEGER = "integer"
    MONEY = "decimal"
    CURRENCY = "currency code"
    COUNTRY = "country"
    POSTAL = "postal code"
    TEXT = "text"


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[\d\s().\-]{7,20}$")
_URL = re.compile(r"^https?://\S+$", re.IGNORECASE)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_INTEGER = re.compile(r"^-?\d{1,18}$")
_DECIMAL = re.compile(r"^-?\d+\.\d{1,6}$")
_POSTAL = re.compile(
    r"^([A-Za-z]\d[A-Za-z] ?\d[A-Za-z]\d|\d{5}(-\d{4})?|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2})$"
)
_CURRENCIES = frozenset(c.alpha_3 for c in pycountry.currencies)
_COUNTRIES = frozenset(
    name.lower()
    for c in pycountry.countries
    for name in (c.name, c.alpha_2, c.alpha_3, getattr(c, "common_name", c.name))
)


def _is_country(text: str) -> bool:
    return text.lower() in _COUNTRIES and not text.isdigit()


_TEXT_CHECKS: tuple[tuple[Kind, Callable[[str], bool]], ...] = (
    (Kind.EMAIL, lambda t: bool(_EMAIL.match(t))),
    (Kind.URL, lambda t: bool(_URL.match(t))),
    (Kind.DATETIME, lambda t: bool(_DATETIME.match(t))),
    (Kind.DATE, lambda t: bool(_DATE.match(t))),
    (Kind.CURRENCY, lambda t: t in _CURRENCIES),
    (Kind.INTEGER, lambda t: bool(_INTEGER.match(t))),
    (Kind.MONEY, lambda t: bool(_DECIMAL.match(t))),
    (Kind.POSTAL, lambda t: bool(_POSTAL.match(t))),
    (Kind.PHONE, lambda t: bool(_PHONE.match(t)) and sum(ch.isdigit() for ch in t) >= 7),  # noqa: PLR2004 - seven digits make a phone number
    (Kind.COUNTRY, _is_country),
)


def _kind(value: object) -> Kind | None:  # noqa: PLR0911 - one return per kind of value
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return Kind.BOOLEAN
    if isinstance(value, int):
        return Kind.INTEGER
    if isinstance(value, float | Decimal):
        return Kind.MONEY
    if isinstance(value, datetime):
        return Kind.DATETIME
    if isinstance(value, date):
        return Kind.DATE
    if isinstance(value, dict | list):
        return None
    text = str(value).strip()
    if text.lower() in {"true", "false"}:
        return Kind.BOOLEAN
    return next((kind for kind, check in _TEXT_CHECKS if check(text)), Kind.TEXT)


def profile(values: Iterable[object], *, share: float = 0.8) -> Kind | None:
    """Return the kind at least ``share`` of the non-empty values have, else ``None``."""
    kinds = Counter(k for k in map(_kind, values) if k is not None)
    if not kinds:
        return None
    kind, count = kinds.most_common(1)[0]
    if kind is Kind.INTEGER and kinds[Kind.POSTAL] and count < sum(kinds.values()):
        kind, count = Kind.POSTAL, kinds[Kind.POSTAL] + count
    return kind if count / sum(kinds.values()) >= share else None


def normalise(value: object) -> str | None:
    """Return a comparable form of ``value`` (case, spaces, phone punctuation, number form)."""
    if value is None or value == "" or isinstance(value, dict | list):
        return None
    text = str(value).strip().lower()
    digits = re.sub(r"\D", "", text)
    if _PHONE.match(text) and len(digits) >= 7:  # noqa: PLR2004 - as in _TEXT_CHECKS
        return digits[-10:]
    try:
        number = Decimal(text)
    except InvalidOperation:
        return " ".join(text.split())
    return format(number.normalize(), "f") if number.is_finite() else text
