"""Intake targets: what to poll and subscribe to, read from the loaded maps of the running flows.

Each flow map names its FreshBooks object (``client``) and its Salesforce objects (``Account``,
``Contact``). Only flows that are registered with the worker are watched, so intake never
enqueues jobs nobody runs. A FreshBooks resource or a Salesforce change event topic feeds one
flow: when two flows name the same one, the first flow in map order takes it (its pollers and
the Salesforce modstamp poller, which is per flow, still cover the other). A mirror flow (maps
come after the three flows) is fed by its FreshBooks resource only: when another flow has it,
the mirror is listed in ``also`` and gets a job of its own for each change.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import structlog

from freshforce.connectors.freshbooks.client import RESOURCES
from freshforce.intake.salesforce_poller import PollTarget
from freshforce.mapping import MappingConfigError, MapSet, load_maps

__all__ = ["IntakeTargets", "cdc_topic", "intake_targets", "mirror_event_flows"]

log = structlog.get_logger("freshforce.service.targets")
# FreshBooks objects a flow derives from another resource's records.
_SALESFORCE_TRIGGERED = frozenset({"invoices"})
_FRESHBOOKS_TRIGGERED = frozenset({"payments"})
# Child objects whose changes a flow also watches (its jobs hand them to the parent's job):
# a line item's description or service date changes no field of its Opportunity.
_CHILDREN: Mapping[str, tuple[str, ...]] = MappingProxyType({"invoices": ("OpportunityLineItem",)})
# (An invoice's change, a payment applied or removed, moves its payment summary too.)
_DERIVED: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"payment_summary": ("payments", "invoices")}
)


@dataclass(frozen=True)
class IntakeTargets:
    """FreshBooks resources to poll, Salesforce objects to poll and CDC entities, each → flow."""

    freshbooks: Mapping[str, str]  # resource name (``clients``) → flow
    salesforce: tuple[PollTarget, ...]
    cdc: Mapping[str, str]  # entity (``Account``) → flow
    # resource name → the mirror flows its changes feed besides its own flow
    also: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def empty(self) -> bool:
        return not (self.freshbooks or self.salesforce or self.cdc)


def cdc_topic(entity: str) -> str:
    """Return the change event topic of ``entity`` (``/data/AccountChangeEvent``)."""
    if entity.endswith("__c"):
        return f"/data/{entity.removesuffix('__c')}__ChangeEvent"
    return f"/data/{entity}ChangeEvent"


def intake_targets(maps: MapSet, flows: Collection[str]) -> IntakeTargets:
    """Return the targets of the flows in ``flows`` that ``maps`` has a map for."""
    freshbooks: dict[str, str] = {}
    salesforce: list[PollTarget] = []
    cdc: dict[str, str] = {}
    also: dict[str, tuple[str, ...]] = {}
    for name, flow_map in maps.flows.items():
        if name not in flows:
            continue
        if flow_map.mirror is not None:
            _mirror(freshbooks, also, flow_map.freshbooks_object, name)
            continue
        # The invoices flow is triggered by Opportunities only (its write-backs go the other
        # way), the payments flow by FreshBooks records only; other flows by both sides.
        if name not in _SALESFORCE_TRIGGERED:
            resources = _resources(flow_map.freshbooks_object)
            if not resources:
                log.warning(
                    "freshbooks_object_not_polled", flow=name, object=flow_map.freshbooks_object
                )
            for resource in resources:
                _claim(freshbooks, resource, name, "freshbooks_resource_shared")
        if name not in _FRESHBOOKS_TRIGGERED:
            for sobject in (*flow_map.salesforce_objects, *_CHILDREN.get(name, ())):
                salesforce.append(PollTarget(sobject, name))
                _claim(cdc, sobject, name, "cdc_entity_shared")
    return IntakeTargets(freshbooks, tuple(salesforce), cdc, MappingProxyType(also))


def _mirror(
    freshbooks: dict[str, str], also: dict[str, tuple[str, ...]], obj: str, flow: str
) -> None:
    """Feed a mirror by its FreshBooks resource only, besides the flow that has it."""
    for resource in _resources(obj):
        if resource in freshbooks:
            also[resource] = (*also.get(resource, ()), flow)
        else:
            freshbooks[resource] = flow


def _resources(freshbooks_object: str) -> tuple[str, ...]:
    if freshbooks_object in _DERIVED:
        return _DERIVED[freshbooks_object]
    found = [r.name for r in RESOURCES.values() if freshbooks_object in {r.singular, r.name}]
    return tuple(found[:1])


def _claim(taken: dict[str, str], what: str, flow: str, event: str) -> None:
    if what in taken:
        log.warning(event, target=what, flow=taken[what], also=flow)
        return
    taken[what] = flow


def mirror_event_flows(config_dir: Path | None) -> dict[str, tuple[str, ...]]:
    """Return FreshBooks event kind (``invoice``) → the mirror flows of ``config_dir``'s maps.

    The webhook route enqueues a job for each besides the kind's own flow. A directory whose
    maps do not load gives none here: the service reports its problems when it starts.
    """
    try:
        maps = load_maps(config_dir)
    except MappingConfigError:
        return {}
    found: dict[str, tuple[str, ...]] = {}
    for name, flow_map in maps.flows.items():
        if flow_map.mirror is None:
            continue
        for resource in _resources(flow_map.freshbooks_object):
            kind = RESOURCES[resource].singular
            found[kind] = (*found.get(kind, ()), name)
    return found
