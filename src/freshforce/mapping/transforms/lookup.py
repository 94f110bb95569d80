"""Lookups: a value found on a side by a field (an Account Id by FreshBooks client id).

The mapping never reads a remote system. Mapping a batch first collects every
:class:`LookupKey` it needs, the engine resolves them in one batched call, and mapping then runs
with the answers (see ``map_records``).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, Literal

from freshforce.mapping.catalogue import System
from freshforce.mapping.transforms.base import (
    PENDING,
    LookupKey,
    Params,
    StepContext,
    StepFn,
    TransformDef,
    TransformError,
    is_empty,
)

__all__ = ["LOOKUP_TRANSFORMS", "LookupParams"]


class LookupParams(Params):
    """Find the ``object`` whose ``by`` field equals the value and take its ``returns`` field."""

    object: str
    by: str
    returns: str = "Id"
    missing: Literal["error", "null"] = "error"

    @property
    def system(self) -> System:
        """Salesforce objects are PascalCase (Account); FreshBooks ones lower case (client)."""
        return System.SALESFORCE if self.object[:1].isupper() else System.FRESHBOOKS


def _lookup(params: LookupParams) -> StepFn:
    def step(value: Any, ctx: StepContext) -> Any:  # noqa: ANN401
        # Any: the found value is whatever the other side holds.
        if is_empty(value):
            return None
        if not isinstance(value, Hashable):
            raise TransformError(f"value {value!r} cannot be looked up")
        key = LookupKey(params.system, params.object, params.by, value, params.returns)
        if ctx.wanted is not None:
            ctx.wanted.add(key)
            return PENDING
        found = (ctx.lookups or {}).get(key)
        if found is None and params.missing == "error":
            raise TransformError(
                f"no {params.object} with {params.by} = {value!r} (lookup of {params.returns})"
            )
        return found

    return step


def _inverse(params: LookupParams, arity: int | None) -> list[tuple[str, Params]]:
    del arity
    swapped = LookupParams(
        object=params.object, by=params.returns, returns=params.by, missing=params.missing
    )
    return [("lookup", swapped)]


LOOKUP_TRANSFORMS: list[TransformDef[Any]] = [
    TransformDef(
        name="lookup",
        summary="`returns` of the `object` whose `by` equals the value; inverse swaps",
        params=LookupParams,
        build=_lookup,
        inverse=_inverse,
        example="transform: [{lookup: {object: Account, by: FreshBooks_Client_Id__c}}]",
    ),
]
