"""Map a batch of records with one batched lookup call to the engine's resolver."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Protocol

from freshforce.mapping.model import FlowMap, MappedRecord
from freshforce.mapping.problems import MappingRecordError
from freshforce.mapping.schema import Direction
from freshforce.mapping.transforms import LookupKey, RateSource

__all__ = ["LookupResolver", "map_records"]


class LookupResolver(Protocol):
    """The engine's batched lookup: every key at once, answers by key (absent: not found)."""

    async def resolve(self, keys: Collection[LookupKey]) -> Mapping[LookupKey, object]:
        """Return the value found for each key it can."""
        ...


async def map_records(
    flow: FlowMap,
    records: Sequence[Mapping[str, Any]],
    direction: Direction,
    *,
    resolver: LookupResolver | None = None,
    rates: RateSource | None = None,
) -> list[MappedRecord | MappingRecordError]:
    """Map each record; one record's error is its own entry and never fails its neighbours."""
    # Any: raw records of a side.
    wanted: set[LookupKey] = set()
    for record in records:
        wanted |= flow.lookup_keys(record, direction)
    found: Mapping[LookupKey, object] = {}
    if wanted and resolver is not None:
        found = await resolver.resolve(frozenset(wanted))
    results: list[MappedRecord | MappingRecordError] = []
    for record in records:
        try:
            results.append(flow.apply(record, direction, lookups=found, rates=rates))
        except MappingRecordError as exc:
            results.append(exc)
    return results
