"""Country and province normalisation, with ISO 3166 data from the ``pycountry`` package."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

import pycountry

from freshforce.mapping.transforms.base import (
    Params,
    StepContext,
    StepFn,
    TransformDef,
    TransformError,
    is_empty,
)

__all__ = ["GEO_TRANSFORMS", "normalise_country", "normalise_province"]

# Everyday names pycountry does not know.
_COUNTRY_ALIASES = {
    "usa": "US",
    "u.s.": "US",
    "u.s.a.": "US",
    "united states of america": "US",
    "america": "US",
    "uk": "GB",
    "u.k.": "GB",
    "england": "GB",
    "great britain": "GB",
    "britain": "GB",
}


@lru_cache(maxsize=1024)
def normalise_country(value: str, to: Literal["code", "name"]) -> str | None:
    """Return the ISO alpha-2 code (or short name) of a country given by code or name."""
    text = value.strip()
    code = _COUNTRY_ALIASES.get(text.lower())
    try:
        country = pycountry.countries.lookup(code or text)
    except LookupError:
        return None
    return str(country.alpha_2 if to == "code" else country.name)


@lru_cache(maxsize=4096)
def normalise_province(value: str, country_code: str, to: Literal["code", "name"]) -> str | None:
    """Return a subdivision's code without country prefix ("ON") or its name ("Ontario")."""
    text = value.strip().casefold()
    subdivisions = pycountry.subdivisions.get(country_code=country_code)  # type: ignore[no-untyped-call]  # pycountry leaves it untyped
    for sub in subdivisions or []:
        short = str(sub.code).split("-", 1)[1]
        if text in {short.casefold(), str(sub.code).casefold(), str(sub.name).casefold()}:
            return short if to == "code" else str(sub.name)
    return None


class CountryParams(Params):
    """``to``: code (ISO alpha-2) or name; ``unknown``: error or keep the value as it is."""

    to: Literal["code", "name"] = "code"
    unknown: Literal["error", "keep"] = "error"


def _country(params: CountryParams) -> StepFn:
    def step(value: Any, ctx: StepContext) -> str | None:  # noqa: ANN401
        # Any: text from the wire.
        del ctx
        if is_empty(value):
            return None
        found = normalise_country(str(value), params.to)
        if found is None:
            if params.unknown == "keep":
                return str(value)
            raise TransformError(f"value {value!r} is not a known country")
        return found

    return step


class ProvinceParams(CountryParams):
    """``country``: the country when the rule gives only the province field."""

    country: str | None = None


def _province(params: ProvinceParams) -> StepFn:
    def step(value: Any, ctx: StepContext) -> Any:  # noqa: ANN401
        # Any: text, or [province, country].
        del ctx
        pair = isinstance(value, list)
        province, country = value[:2] if pair else [value, params.country]
        code = None if is_empty(country) else normalise_country(str(country), "code")
        if code is None:
            if (is_empty(province) and is_empty(country)) or params.unknown == "keep":
                return value
            raise TransformError(f"province {province!r} has no known country ({country!r})")
        result = None if is_empty(province) else normalise_province(str(province), code, params.to)
        if result is None and not is_empty(province):
            if params.unknown == "error":
                raise TransformError(f"value {province!r} is not a province of {code}")
            result = str(province)
        if not pair:
            return result
        return [result, code if params.to == "code" else normalise_country(code, "name")]

    return step


GEO_TRANSFORMS: list[TransformDef[Any]] = [
    TransformDef(
        name="country",
        summary="country name or code -> ISO alpha-2 code (or name); both ways",
        params=CountryParams,
        build=_country,
        inverse=lambda params, arity: [("country", params)],
        shorthand="to",
        example="transform: [country]",
    ),
    TransformDef(
        name="province",
        summary="province/state (with its country) -> ISO code (or name); both ways",
        params=ProvinceParams,
        build=_province,
        inverse=lambda params, arity: [("province", params)],
        shorthand="to",
        elementwise=False,
        example="transform: [province]  # on [p_province, p_country]",
    ),
]
