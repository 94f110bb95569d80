"""Mapping: flow maps in YAML, compiled once, applied to records; pure (no I/O but files).

The engine's whole API::

    maps = load_maps(Path("freshforce"), profile="prod")      # MappingConfigError lists problems
    flow = maps["clients"]                                     # FlowMap, immutable, content_hash
    keys = flow.lookup_keys(record, Direction.TO_SALESFORCE)   # resolve these in one batch...
    out = flow.apply(record, Direction.TO_SALESFORCE, lookups=found, rates=rate_source)
    out.values, out.traces["Account.Name"]                     # values; source, steps, rate
    flow.compare(base, freshbooks_view, salesforce_view)       # per field: FieldState
    flow.run_hooks(HookContext(...))                           # HookDecision: write/skip/fail

``map_records`` does the lookup batching for a list of records with an async resolver.
``check_maps`` returns every problem instead of raising, ``check_every_profile`` does so for
dev, qa and prod at once; ``write_defaults`` writes the shipped files. Pass another
:class:`FieldCatalogue` (e.g. built from a live describe) to check fields against it.
"""

from __future__ import annotations

from freshforce.mapping.batch import LookupResolver, map_records
from freshforce.mapping.catalogue import SHIPPED_CATALOGUE, FieldCatalogue, System
from freshforce.mapping.hooks import Amend, Fail, HookContext, HookDecision, HookResult, Skip
from freshforce.mapping.loader import (
    FLOWS,
    PROFILES,
    check_every_profile,
    check_maps,
    load_maps,
    write_defaults,
)
from freshforce.mapping.merge import FieldComparison, FieldState
from freshforce.mapping.model import FieldRule, FieldTrace, FlowMap, MappedRecord, MapSet
from freshforce.mapping.problems import MappingConfigError, MappingRecordError, Problem
from freshforce.mapping.schema import DeletePolicy, Direction, MatchStrategy, Policy
from freshforce.mapping.transforms import TRANSFORMS, LookupKey, Rate, RateSource, RateUsed

__all__ = [
    "FLOWS",
    "PROFILES",
    "SHIPPED_CATALOGUE",
    "TRANSFORMS",
    "Amend",
    "DeletePolicy",
    "Direction",
    "Fail",
    "FieldCatalogue",
    "FieldComparison",
    "FieldRule",
    "FieldState",
    "FieldTrace",
    "FlowMap",
    "HookContext",
    "HookDecision",
    "HookResult",
    "LookupKey",
    "LookupResolver",
    "MapSet",
    "MappedRecord",
    "MappingConfigError",
    "MappingRecordError",
    "MatchStrategy",
    "Policy",
    "Problem",
    "Rate",
    "RateSource",
    "RateUsed",
    "Skip",
    "System",
    "check_every_profile",
    "check_maps",
    "load_maps",
    "map_records",
    "write_defaults",
]
