"""Suggestions for one flow: read the describe, sample records, pair linked ones, rank, assign.

Reads only: the Salesforce describe of the flow's objects, a sample of each side's records, the
records of up to ``linked`` stored links, and the tenant's earlier decisions. Every unmapped
FreshBooks field of the flow's object is ranked against the writable, unmapped Salesforce fields,
with the semantic layer when the ``ai`` extra is installed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from freshforce.assist.fields import SourceField, TargetField, targets_from_describe
from freshforce.assist.names import words
from freshforce.assist.scoring import Candidate, Decisions, assign, rank, shown
from freshforce.assist.semantic import load_embedder
from freshforce.connectors.freshbooks import RESOURCES
from freshforce.connectors.salesforce.governor import Priority
from freshforce.mapping.catalogue import SHIPPED_CATALOGUE, System
from freshforce.store.links import all_links
from freshforce.store.mapping_decisions import Decision, list_decisions
from freshforce.store.scope import Scope

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from freshforce.engine.pair import Pair
    from freshforce.mapping import FlowMap
    from freshforce.store.mapping_decisions import MappingDecision

__all__ = ["FlowSuggestions", "decisions_of", "suggest"]

_RESOURCE_OF = {r.singular: r for r in RESOURCES.values()}
# FreshBooks fields no Salesforce field should hold: bookkeeping of FreshBooks itself.
_INTERNAL = frozenset(
    [
        "userid",
        "accounting_systemid",
        "uuid",
        "vis_state",
        "statement_token",
        "direct_link_token",
        "subdomain",
        "role",
        "level",
        "num_logins",
        "notified",
        "last_login",
        "last_activity",
        "username",
        "updated",
    ]
)
_SHOWN = 3


@dataclass(frozen=True)
class FlowSuggestions:
    """The top candidates of each unmapped source field, and the fields with none good enough."""

    flow: str
    # source ref -> the ranking's top three, best first (and its pick after them if lower)
    suggestions: Mapping[str, tuple[Candidate, ...]]
    unmatched: tuple[str, ...]
    sampled: int
    linked: int
    chosen: Mapping[str, Candidate]  # source ref -> its one-to-one pick (what --apply writes)

    def picks(self) -> dict[str, Candidate]:
        """Return each source's pick: one target per source, one source per target."""
        return dict(self.chosen)


def decisions_of(found: Sequence[MappingDecision], flow: str) -> Decisions:
    """Fold stored decisions into what the scorer reads; accepted words become synonyms."""
    accepted: dict[str, set[str]] = defaultdict(set)
    rejected: dict[str, set[str]] = defaultdict(set)
    synonyms: dict[str, tuple[str, ...]] = {}
    for d in found:
        if d.decision is Decision.REJECTED:
            if d.flow == flow:
                rejected[d.source].add(d.target)
            continue
        if d.flow == flow:
            accepted[d.source].add(d.target)
        source_words = words(d.source.split(".", 1)[-1])
        target_words = words(d.target.split(".", 1)[-1])
        if len(source_words) == 1 and source_words[0] not in target_words:
            synonyms[source_words[0]] = target_words
    return Decisions(
        {k: frozenset(v) for k, v in accepted.items()},
        {k: frozenset(v) for k, v in rejected.items()},
        synonyms,
    )


def _mapped(flow: FlowMap) -> tuple[set[str], set[str]]:
    fb = {ref for rule in flow.rules for ref in rule.freshbooks}
    sf = {ref for rule in flow.rules for ref in rule.salesforce}
    return fb, sf


async def _targets(pair: Pair, flow: FlowMap, mapped: set[str]) -> list[TargetField]:
    out: list[TargetField] = []
    for obj in flow.salesforce_objects:
        info = await pair.salesforce.describe(obj, priority=Priority.BACKFILL)
        fields = [f.model_dump(by_alias=True) for f in info.fields]
        out += [t for t in targets_from_describe(obj, fields) if t.ref not in mapped]
    return out


async def _fb_sample(pair: Pair, obj: str, size: int) -> list[Mapping[str, Any]]:
    resource = _RESOURCE_OF.get(obj)
    if resource is None:  # computed objects (payment_summary) have no records to sample
        return []
    page = await pair.freshbooks.list_page(resource, per_page=size)
    return [r.raw for r in page.records]


async def _linked_pairs(
    pair: Pair, engine: AsyncEngine, scope: Scope, flow: FlowMap, targets: Sequence[TargetField]
) -> list[tuple[Mapping[str, Any], dict[str, Mapping[str, Any]]]]:
    """Return (FreshBooks record, {object: Salesforce record}) of up to ``limit`` links."""
    resource = _RESOURCE_OF.get(flow.freshbooks_object)
    async with engine.connect() as db:
        links = (await all_links(db, scope))[-_LINKED_LIMIT:]
    if resource is None or not links:
        return []
    sf_ids = [i for k in links for i in (k.salesforce_id, k.salesforce_secondary_id) if i]
    by_id: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for obj in flow.salesforce_objects:
        names = sorted({t.name for t in targets if t.obj == obj} | {"Id"})
        found = await pair.salesforce.get_by_ids(obj, sf_ids, names, priority=Priority.BACKFILL)
        by_id |= {rid[:15]: (obj, rec) for rid, rec in found.items()}
    out = []
    for link in links:
        if link.freshbooks_id is None:
            continue
        fb = await pair.freshbooks.get(resource, int(link.freshbooks_id))
        sides = [by_id.get(i[:15]) for i in (link.salesforce_id, link.salesforce_secondary_id) if i]
        out.append((fb.raw, dict(filter(None, sides))))
    return out


_LINKED_LIMIT = 20


def _sources(
    flow: FlowMap,
    mapped: set[str],
    samples: Sequence[Mapping[str, Any]],
    linked: Sequence[tuple[Mapping[str, Any], dict[str, Mapping[str, Any]]]],
    targets: Sequence[TargetField],
) -> list[SourceField]:
    obj = flow.freshbooks_object
    names = sorted(SHIPPED_CATALOGUE.fields(System.FRESHBOOKS, obj) - mapped - _INTERNAL)
    out = []
    for name in names:
        pairs: dict[str, list[tuple[object, object]]] = defaultdict(list)
        for fb, sf in linked:
            for t in targets:
                if t.obj in sf:
                    pairs[t.ref].append((fb.get(name), sf[t.obj].get(t.name)))
        values = tuple(s.get(name) for s in samples)
        out.append(SourceField(obj, name, samples=values, linked=pairs))
    return out


async def suggest(
    flow: FlowMap, pair: Pair, engine: AsyncEngine, *, tenant: str, sample: int = 50
) -> FlowSuggestions:
    """Rank the candidates of every unmapped FreshBooks field of ``flow``."""
    fb_mapped, sf_mapped = _mapped(flow)
    targets = [t for t in await _targets(pair, flow, sf_mapped) if t.refusal() is None]
    samples = await _fb_sample(pair, flow.freshbooks_object, sample)
    linked = await _linked_pairs(pair, engine, Scope(tenant, flow.flow), flow, targets)
    async with engine.connect() as db:
        decisions = decisions_of(await list_decisions(db, tenant), flow.flow)
    sources = _sources(flow, fb_mapped, samples, linked, targets)
    embedder = load_embedder()  # None without the ai extra: the semantic layer is left out
    ranked = {s.ref: rank(s, targets, decisions=decisions, embedder=embedder) for s in sources}
    chosen = {s: c for s, c in assign(ranked).items() if c is not None}
    seen: dict[str, tuple[Candidate, ...]] = {}
    for source, candidates in ranked.items():
        top = shown(candidates, _SHOWN)
        pick = chosen.get(source)
        if pick is not None and pick not in top:  # its better targets went to other fields
            top.append(pick)
        if top:
            seen[source] = tuple(top)
    unmatched = tuple(s for s in ranked if s not in seen)
    return FlowSuggestions(flow.flow, seen, unmatched, len(samples), len(linked), chosen)
