"""The built-in transforms, by name: each with its parameters, inverse and arity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from freshforce.mapping.transforms.base import (
    PENDING,
    LookupKey,
    Params,
    Rate,
    RateSource,
    RateUsed,
    StepContext,
    StepFn,
    TransformDef,
    TransformError,
    is_empty,
)
from freshforce.mapping.transforms.dates import DATE_TRANSFORMS
from freshforce.mapping.transforms.geo import GEO_TRANSFORMS
from freshforce.mapping.transforms.lookup import LOOKUP_TRANSFORMS
from freshforce.mapping.transforms.money import MONEY_TRANSFORMS
from freshforce.mapping.transforms.text import TEXT_TRANSFORMS, render_template, template_fields

__all__ = [
    "PENDING",
    "TRANSFORMS",
    "LookupKey",
    "Params",
    "Rate",
    "RateSource",
    "RateUsed",
    "StepContext",
    "StepFn",
    "TransformDef",
    "TransformError",
    "is_empty",
    "render_template",
    "template_fields",
]

TRANSFORMS: Mapping[str, TransformDef[Any]] = {
    transform.name: transform
    for transform in (
        *TEXT_TRANSFORMS,
        *DATE_TRANSFORMS,
        *MONEY_TRANSFORMS,
        *GEO_TRANSFORMS,
        *LOOKUP_TRANSFORMS,
    )
}
