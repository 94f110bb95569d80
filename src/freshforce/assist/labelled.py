"""The labelled field pairs and the measure of the scorer on them (precision@1, recall@3).

``data/labelled_pairs.json`` pairs FreshBooks fields (with sample values) with the Salesforce
targets a person would choose, or with none (hard negatives: a read-only or calculated field
is the only look-alike); ``data/salesforce_fields.json`` is the describe they are ranked against.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from freshforce.assist.fields import SourceField, TargetField, targets_from_describe
from freshforce.assist.scoring import Candidate, Layers, assign, rank, shown

if TYPE_CHECKING:
    from freshforce.assist.semantic import Embedder

__all__ = ["Measure", "Pair", "load_pairs", "load_targets", "measure"]


@dataclass(frozen=True)
class Pair:
    """One labelled FreshBooks field: its samples and the targets that count as right."""

    source: SourceField
    expect: frozenset[str]
    scope: tuple[str, ...]
    note: str


@dataclass(frozen=True)
class Measure:
    """The scorer's results on the labelled set."""

    positives: int
    negatives: int
    proposed: int  # top-1 candidates at or above the proposal score
    correct_at_1: int  # of those, the right target
    found_at_3: int  # positives whose right target is among the top three
    refused: int  # negatives with nothing proposed
    misses: tuple[str, ...]

    @property
    def precision_at_1(self) -> float:
        return self.correct_at_1 / self.proposed if self.proposed else 0.0

    @property
    def recall_at_3(self) -> float:
        return self.found_at_3 / self.positives if self.positives else 0.0


def _json(name: str) -> Any:  # noqa: ANN401 - the shipped JSON documents
    text = (resources.files("freshforce.assist") / "data" / name).read_text(encoding="utf-8")
    return json.loads(text)


def load_targets() -> list[TargetField]:
    """Return the described Salesforce fields the labelled set is ranked against."""
    by_object: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for field in _json("salesforce_fields.json")["fields"]:
        by_object[field["object"]].append(field)
    return [t for obj, fields in by_object.items() for t in targets_from_describe(obj, fields)]


def load_pairs() -> list[Pair]:
    """Return the labelled pairs."""
    doc = _json("labelled_pairs.json")
    pairs = []
    for raw in doc["pairs"]:
        obj, name = raw["freshbooks"].split(".", 1)
        source = SourceField(obj, name, samples=tuple(raw["samples"]))
        scope = tuple(doc["scope"][obj])
        pairs.append(Pair(source, frozenset(raw["expect"]), scope, raw.get("note", "")))
    return pairs


def _ranked(
    pairs: list[Pair], targets: list[TargetField], layers: Layers, embedder: Embedder | None
) -> tuple[dict[str, list[Candidate]], dict[str, Candidate | None]]:
    """Return each source's ranking and its pick (one-to-one per FreshBooks object)."""
    ranked: dict[str, list[Candidate]] = {}
    picks: dict[str, Candidate | None] = {}
    for obj in sorted({p.source.obj for p in pairs}):
        group = [p for p in pairs if p.source.obj == obj]
        scoped = [t for t in targets if t.obj in group[0].scope]
        mine = {
            p.source.ref: rank(p.source, scoped, layers=layers, embedder=embedder) for p in group
        }
        ranked |= mine
        picks |= assign(mine)
    return ranked, picks


def measure(
    layers: Layers = Layers(),  # noqa: B008 - frozen default
    embedder: Embedder | None = None,
) -> Measure:
    """Rank every labelled pair and count the hits.

    recall@3 counts the ranking's three shown candidates; precision@1 the one-to-one picks.
    ``embedder`` adds the semantic layer (when ``layers.semantic``).
    """
    pairs, targets = load_pairs(), load_targets()
    ranked, picks = _ranked(pairs, targets, layers, embedder)
    proposed = correct = found = refused = 0
    misses: list[str] = []
    for pair in pairs:
        top = shown(ranked[pair.source.ref])
        pick = picks[pair.source.ref]
        first = None if pick is None else pick.target
        if first is not None:
            proposed += 1
            correct += first in pair.expect
        if pair.expect:
            found += any(c.target in pair.expect for c in top[:3])
        else:
            refused += first is None
        if (first not in pair.expect) if pair.expect else first is not None:
            misses.append(f"{pair.source.ref} -> {first or '-'}")
    positives = sum(1 for p in pairs if p.expect)
    return Measure(
        positives, len(pairs) - positives, proposed, correct, found, refused, tuple(misses)
    )
