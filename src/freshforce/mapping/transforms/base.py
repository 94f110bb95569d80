"""What a built-in transform is: parameters, a step function, an inverse and an arity."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from freshforce.mapping.catalogue import System

__all__ = [
    "PENDING",
    "LookupKey",
    "NoParams",
    "Params",
    "Rate",
    "RateSource",
    "RateUsed",
    "StepContext",
    "StepFn",
    "TransformDef",
    "TransformError",
    "is_empty",
]


class TransformError(ValueError):
    """A value cannot go through a step; the message names the value."""


class Params(BaseModel):
    """Base of every transform's parameters: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(Params):
    """A transform that takes no parameters."""


@dataclass(frozen=True, slots=True)
class LookupKey:
    """One value to find on a side: the record of ``object`` whose ``by`` equals ``value``."""

    system: System
    object: str
    by: str
    value: Hashable
    returns: str


@dataclass(frozen=True, slots=True)
class Rate:
    """A conversion rate: 1 unit of ``source`` is ``value`` units of ``target`` as of a day."""

    source: str
    target: str
    value: Decimal
    as_of: date | None
    origin: str


@dataclass(frozen=True, slots=True)
class RateUsed:
    """The rate a conversion applied, kept with the written value for audit."""

    rate: Rate
    amount_in: Decimal
    amount_out: Decimal


class RateSource(Protocol):
    """Rates the runtime supplies (e.g. Salesforce dated conversion rates)."""

    def rate(self, source: str, target: str, on: date | None) -> Rate | None:
        """Return the rate from ``source`` to ``target`` in force on ``on`` (None: latest)."""
        ...


class _Pending:
    """A lookup value still to be resolved: the rest of the chain waits for it."""

    def __repr__(self) -> str:
        return "PENDING"


PENDING = _Pending()


@dataclass(slots=True)
class StepContext:
    """What a step may consult besides its input: the source record, lookups, rates."""

    record: Mapping[str, Any]  # Any: a side's raw record
    lookups: Mapping[LookupKey, object] | None = None
    rates: RateSource | None = None
    wanted: set[LookupKey] | None = None  # set: collect lookups instead of failing
    rate_used: RateUsed | None = None
    trace: list[tuple[str, object]] = field(default_factory=list)


StepFn = Callable[[Any, StepContext], Any]  # Any: a step takes and returns any wire value
P = TypeVar("P", bound=Params)
InverseFn = Callable[[P, int | None], list[tuple[str, Params]]]
ArityFn = Callable[[P, int | None], int | None]


def _same(params: Params, arity: int | None) -> int | None:
    del params
    return arity


@dataclass(frozen=True)
class TransformDef(Generic[P]):
    """A built-in transform.

    ``inverse`` returns the steps that undo it (an empty list: itself undoes nothing, i.e. the
    identity), or is None when the transform loses information. ``elementwise`` transforms apply
    to each value of a multi-field rule; the others take the whole list.
    """

    name: str
    summary: str
    params: type[P]
    build: Callable[[P], StepFn]
    inverse: InverseFn[P] | None = None
    arity: ArityFn[P] = _same
    shorthand: str | None = None
    elementwise: bool = True
    example: str = ""


def is_empty(value: object) -> bool:
    """Say whether a value counts as missing (None, blank text, empty list)."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple):
        return all(is_empty(item) for item in value)
    return False
