"""What a mirror flow reads for a batch: the FreshBooks records, their parents, the mirror.

Per batch and tenant, each in as few calls as the APIs allow: the FreshBooks records named by
the jobs in one list call (a deleted one by its own GET); each lookup's parents from the clients
flow's stored links, the rest in one query per lookup; the mirrored records already in
Salesforce in one query on the external id, and their children in one query on the parent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from freshforce.connectors.freshbooks import RESOURCES
from freshforce.connectors.salesforce import Priority, to_18
from freshforce.connectors.salesforce.soql import check_name, literal
from freshforce.errors import ConfigError, RecordGoneError
from freshforce.store.links import find_links
from freshforce.store.scope import Scope

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from freshforce.connectors.freshbooks.client import Resource
    from freshforce.connectors.salesforce import SalesforceClient
    from freshforce.engine.pair import Pair
    from freshforce.mapping import FlowMap
    from freshforce.mapping.mirror_schema import MirrorLookupModel, MirrorModel

__all__ = [
    "PRIORITY",
    "Existing",
    "child_fields",
    "parent_fields",
    "read_existing",
    "read_records",
    "resolve_lookups",
    "resource_of",
]

PRIORITY = Priority.BACKFILL  # a reporting copy: after every other flow's traffic
# The list filter naming records by id, per resource.
_ID_FILTERS = {
    "clients": "userids",
    "invoices": "invoiceids",
    "payments": "logids",
    "items": "itemids",
}
_IN_CHUNK = 200  # ids per IN (...) list, to keep a query's text well under its limit


def resource_of(flow_map: FlowMap) -> Resource:
    """Return the FreshBooks resource of a mirror map (``invoice`` → ``invoices``)."""
    for resource in RESOURCES.values():
        named = flow_map.freshbooks_object in {resource.singular, resource.name}
        if named and resource.name in _ID_FILTERS:
            return resource
    msg = (
        f"{flow_map.file}: a mirror flow copies FreshBooks clients, invoices, payments or items, "
        f"not {flow_map.freshbooks_object!r}"
    )
    raise ConfigError(msg, flow=flow_map.flow)


async def read_records(
    pair: Pair, resource: Resource, ids: Sequence[int]
) -> dict[int, Mapping[str, Any] | None]:
    """Return each id's record as FreshBooks sends it, None for one that is gone."""
    found: dict[int, Mapping[str, Any] | None] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        search = {_ID_FILTERS[resource.name]: [str(i) for i in ids[start : start + _IN_CHUNK]]}
        async for page in pair.freshbooks.list_all(resource, search=search):
            found |= {r.id: r.raw for r in page.records}
    for missing in [i for i in ids if i not in found]:
        try:
            found[missing] = (await pair.freshbooks.get(resource, missing)).raw
        except RecordGoneError:
            found[missing] = None
    return found


async def resolve_lookups(
    engine: AsyncEngine,
    pair: Pair,
    spec: MirrorModel,
    tenant: str,
    records: Iterable[Mapping[str, Any]],
) -> dict[str, dict[str, str]]:
    """Return, per lookup field, each FreshBooks id's Salesforce record id (when one exists)."""
    records = list(records)
    answers: dict[str, dict[str, str]] = {}
    for lookup in spec.lookups:
        wanted = {str(r[lookup.source]) for r in records if r.get(lookup.source) not in {None, ""}}
        found: dict[str, str] = {}
        if lookup.link is not None and wanted:
            async with engine.connect() as db:
                links = await find_links(db, Scope(tenant, lookup.link), freshbooks_ids=wanted)
            found = {
                k.freshbooks_id: k.salesforce_id
                for k in links
                if k.freshbooks_id and k.salesforce_id
            }
        rest = sorted(wanted - found.keys())
        if rest and lookup.object is not None and lookup.by is not None:
            found |= await _query_keys(pair.salesforce, lookup, rest)
        answers[lookup.field] = found
    return answers


async def _query_keys(
    client: SalesforceClient, lookup: MirrorLookupModel, keys: list[str]
) -> dict[str, str]:
    assert lookup.object is not None  # noqa: S101 - checked by the caller
    assert lookup.by is not None  # noqa: S101
    found: dict[str, str] = {}
    by, obj = check_name(lookup.by), check_name(lookup.object)
    for start in range(0, len(keys), _IN_CHUNK):
        listed = ", ".join(literal(k) for k in keys[start : start + _IN_CHUNK])
        # SOQL, not SQL: names pass check_name and values go through literal().
        soql = f"SELECT Id, {by} FROM {obj} WHERE {by} IN ({listed})"  # noqa: S608
        for row in await client.query(soql, priority=PRIORITY):
            found.setdefault(str(row[lookup.by]), to_18(str(row["Id"])))
    return found


@dataclass
class Existing:
    """One mirrored record as Salesforce holds it, with its children by external id."""

    record: dict[str, Any]
    children: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return to_18(str(self.record["Id"]))


def parent_fields(flow_map: FlowMap) -> list[str]:
    """Return the target's fields the flow writes or checks (read to compare)."""
    spec = flow_map.mirror
    assert spec is not None  # noqa: S101 - a mirror map has its section
    target = flow_map.salesforce_objects[0]
    names = [_own(ref, target) for rule in flow_map.rules for ref in rule.salesforce]
    names += [lookup.field for lookup in spec.lookups]
    names += [spec.guard.field] if spec.guard else []
    return [n for n in dict.fromkeys(["Id", spec.external_id, *names]) if n]


def child_fields(flow_map: FlowMap) -> list[str]:
    """Return the child object's fields the flow writes (read to compare)."""
    spec, lines = flow_map.mirror, flow_map.lines
    if spec is None or spec.lines is None or lines is None:
        return []
    names = [_own(ref, lines.salesforce) for rule in lines.rules for ref in rule.salesforce]
    head = ["Id", spec.lines.external_id, spec.lines.parent]
    return [n for n in dict.fromkeys([*head, *names]) if n]


def _own(ref: str, obj: str) -> str:
    owner, _, name = ref.rpartition(".")
    return name if owner == obj else ""


async def read_existing(
    client: SalesforceClient, flow_map: FlowMap, keys: Sequence[str]
) -> dict[str, Existing]:
    """Return the mirrored records of ``keys`` (external ids) with their children, by key."""
    spec = flow_map.mirror
    assert spec is not None  # noqa: S101 - a mirror map has its section
    target = check_name(flow_map.salesforce_objects[0])
    key = check_name(spec.external_id)
    names = ", ".join(check_name(n) for n in parent_fields(flow_map))
    found: dict[str, Existing] = {}
    for start in range(0, len(keys), _IN_CHUNK):
        listed = ", ".join(literal(k) for k in keys[start : start + _IN_CHUNK])
        soql = f"SELECT {names} FROM {target} WHERE {key} IN ({listed})"  # noqa: S608
        for row in await client.query(soql, priority=PRIORITY):
            found[str(row[spec.external_id])] = Existing(_plain(row))
    if spec.lines is None or flow_map.lines is None or not found:
        return found
    by_id = {e.id: e for e in found.values()}
    child = check_name(flow_map.lines.salesforce)
    parent = check_name(spec.lines.parent)
    names = ", ".join(check_name(n) for n in child_fields(flow_map))
    ids = sorted(by_id)
    for start in range(0, len(ids), _IN_CHUNK):
        listed = ", ".join(literal(i) for i in ids[start : start + _IN_CHUNK])
        soql = f"SELECT {names} FROM {child} WHERE {parent} IN ({listed})"  # noqa: S608
        for row in await client.query(soql, priority=PRIORITY):
            owner = by_id.get(to_18(str(row[spec.lines.parent])))
            if owner is not None:
                owner.children[str(row[spec.lines.external_id])] = _plain(row)
    return found


def _plain(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "attributes"}
