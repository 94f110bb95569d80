"""The layered scorer: names, type gates, value profiles and linked-value overlap, with reasons.

Each layer can be switched off (``Layers``) so the benchmark can show what each one adds.
``rank`` scores one source against every target (its top three are what a person sees);
``assign`` picks at most one target per source, one-to-one per target (``street2`` may share
its street's target: two lines joined into one field). The pick decides only what is applied:
a target another source wants more stays among a source's shown candidates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from freshforce.assist.fields import SourceField, TargetField
from freshforce.assist.names import name_match, words
from freshforce.assist.profile import Kind, normalise, profile

if TYPE_CHECKING:
    from freshforce.assist.semantic import Embedder

__all__ = ["PROPOSE_AT", "SHOW_AT", "Candidate", "Decisions", "Layers", "assign", "rank", "shown"]

# Which describe types hold each kind of value: the first set fits best, the second may do.
_FITS: Mapping[Kind, tuple[frozenset[str], frozenset[str]]] = {
    Kind.EMAIL: (frozenset({"email"}), frozenset({"string", "textarea"})),
    Kind.PHONE: (frozenset({"phone"}), frozenset({"string"})),
    Kind.URL: (frozenset({"url"}), frozenset({"string", "textarea"})),
    Kind.DATE: (frozenset({"date"}), frozenset({"datetime", "string"})),
    Kind.DATETIME: (frozenset({"datetime"}), frozenset({"date"})),
    Kind.BOOLEAN: (frozenset({"boolean"}), frozenset()),
    Kind.INTEGER: (frozenset({"int", "double", "string"}), frozenset({"currency", "percent"})),
    Kind.MONEY: (frozenset({"currency", "double"}), frozenset({"percent", "int", "string"})),
    Kind.CURRENCY: (frozenset({"picklist", "string"}), frozenset()),
    Kind.COUNTRY: (frozenset({"string", "picklist"}), frozenset({"textarea"})),
    Kind.POSTAL: (frozenset({"string"}), frozenset()),
    Kind.TEXT: (frozenset({"string", "textarea", "picklist"}), frozenset({"email", "phone"})),
}
SEMANTIC_WEIGHT = 0.4
SEMANTIC_PAR = 0.3
_WEIGHTS = {"name": 0.6, "type": 0.2, "overlap": 0.5, "learned": 0.6, "semantic": SEMANTIC_WEIGHT}
_SEMANTIC_PAR = SEMANTIC_PAR  # a similarity above this adds, below it subtracts
_MIN_LINKED = 2  # linked pairs needed before their overlap counts
_STREET2 = "street2"
PROPOSE_AT = 0.6  # a candidate scoring less is never proposed as the pick
SHOW_AT = 0.45  # ... but shown when its type is the one the values need (a date into a date)
# Kinds specific enough that a target of exactly their type is worth a look on a weak name.
_TYPED = frozenset({Kind.EMAIL, Kind.PHONE, Kind.URL, Kind.DATE, Kind.DATETIME, Kind.MONEY})


@dataclass(frozen=True)
class Layers:
    """Which layers score; the benchmark turns them off one at a time.

    ``semantic`` scores only when an embedder is given (the ``ai`` extra is installed).
    """

    names: bool = True
    types: bool = True
    values: bool = True
    semantic: bool = True


@dataclass(frozen=True)
class Decisions:
    """A tenant's earlier accept/reject decisions: source ref -> target refs."""

    accepted: Mapping[str, frozenset[str]] = field(default_factory=dict)
    rejected: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # Learned word expansions (a source name's word -> the target words it was accepted for).
    synonyms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Candidate:
    """One target proposed for a source, its score (0..~2) and the reasons, strongest first."""

    source: str
    target: str
    score: float
    reasons: tuple[str, ...]
    typed: bool = False  # the target's type is exactly what the sampled values need


def _type_fit(kind: Kind | None, target: TargetField) -> tuple[float, str | None] | None:
    """Return (fit 0..1, reason), or ``None`` when the sampled values cannot go there."""
    if kind is None:
        return 0.5, None
    best, fair = _FITS[kind]
    if target.type in best:
        return 1.0, f"{kind} values fit {target.type}"
    if target.type in fair:
        return 0.4, f"{kind} values into {target.type}"
    return None


def _picklist_fit(samples: Sequence[object], target: TargetField) -> tuple[float, str] | None:
    values = {str(s) for s in samples if s not in (None, "")}
    if not target.picklist or not values:
        return None
    inside = len(values & set(target.picklist))
    return inside / len(values), f"{inside} of {len(values)} values in the picklist"


def _overlap(pairs: Sequence[tuple[object, object]]) -> tuple[float, str] | None:
    both = [(normalise(a), normalise(b)) for a, b in pairs]
    usable = [(a, b) for a, b in both if a is not None]
    if len(usable) < _MIN_LINKED:
        return None
    equal = sum(a == b for a, b in usable)
    return equal / len(usable), f"{equal} of {len(usable)} linked values equal"


def _text(name: str, label: str = "") -> str:
    """Return what the semantic layer embeds for a field: its label, else its expanded name."""
    return label or " ".join(words(name))


def _score_one(  # noqa: C901 - a gate per early exit, a step per layer: reads best whole
    source: SourceField,
    target: TargetField,
    kind: Kind | None,
    layers: Layers,
    decisions: Decisions,
    *,
    embedder: Embedder | None = None,
) -> Candidate | None:
    if target.ref in decisions.rejected.get(source.ref, frozenset()):
        return None
    if layers.types and target.refusal() is not None:
        return None
    reasons: list[tuple[float, str]] = []
    score = 0.0
    typed = False
    if layers.names:
        match = name_match(source.name, target.name, target.label, learned=decisions.synonyms)
        score += _WEIGHTS["name"] * match.score
        reasons.append((match.score, match.reason))
    if layers.semantic and embedder is not None:
        alike = embedder.similarity(
            _text(source.name, source.label), _text(target.name, target.label)
        )
        score += _WEIGHTS["semantic"] * (alike - _SEMANTIC_PAR)
        reasons.append((alike * 0.5, f"meaning {alike:.2f} alike"))
    if layers.types:
        fit = _type_fit(kind if layers.values else None, target)
        if fit is None:
            return None
        score += _WEIGHTS["type"] * fit[0]
        typed = layers.values and kind in _TYPED and fit[0] == 1.0
        if fit[1]:
            reasons.append((fit[0] * 0.5, fit[1]))
    if layers.values:
        picked = _picklist_fit(source.samples, target)
        if picked is not None:
            score += _WEIGHTS["type"] * (picked[0] - 0.5)
            reasons.append((picked[0] * 0.5, picked[1]))
        overlap = _overlap(source.linked.get(target.ref, ()))
        if overlap is not None:
            score += _WEIGHTS["overlap"] * (2 * overlap[0] - 1)
            reasons.append((overlap[0] * 2, overlap[1]))
    if target.ref in decisions.accepted.get(source.ref, frozenset()):
        score += _WEIGHTS["learned"]
        reasons.append((3.0, "accepted before"))
    ordered = tuple(text for _, text in sorted(reasons, key=lambda r: -r[0]))
    return Candidate(source.ref, target.ref, round(score, 4), ordered, typed)


def rank(
    source: SourceField,
    targets: Sequence[TargetField],
    *,
    layers: Layers = Layers(),
    decisions: Decisions = Decisions(),
    embedder: Embedder | None = None,
) -> list[Candidate]:
    """Return every target that passes the gates, best first.

    ``embedder`` (``semantic.load_embedder()``, the ``ai`` extra) adds the semantic layer.
    """
    kind = profile(source.samples) if layers.values else None
    if layers.semantic and embedder is not None:  # one batch for the source and every target
        embedder.embed(
            [_text(source.name, source.label), *(_text(t.name, t.label) for t in targets)]
        )
    found = (_score_one(source, t, kind, layers, decisions, embedder=embedder) for t in targets)
    return sorted((c for c in found if c is not None), key=lambda c: (-c.score, c.target))


def shown(candidates: Sequence[Candidate], top: int = 3) -> list[Candidate]:
    """Return the candidates a person sees, best first.

    Those that could be the pick, and those of exactly the values' type (a date into a date
    field) that score at least ``SHOW_AT``: shown for a person to judge, never picked.
    """
    return [c for c in candidates if c.score >= PROPOSE_AT or (c.typed and c.score >= SHOW_AT)][
        :top
    ]


def _shares(source: str, others: Sequence[str]) -> bool:
    """Whether ``source`` is a second line that may join its first line's target."""
    return source.endswith(_STREET2) and source.removesuffix("2") in others


def assign(ranked: Mapping[str, list[Candidate]]) -> dict[str, Candidate | None]:
    """Return each source's pick: the target it wants most that no source wants more.

    Sources are served in the order of their best score; a pick scores at least ``PROPOSE_AT``
    (``None``: no pick). A source whose best free target scores less still keeps it from the
    sources after it.
    """
    order = sorted(ranked, key=lambda s: -(ranked[s][0].score if ranked[s] else 0.0))
    taken: dict[str, str] = {}
    picks: dict[str, Candidate | None] = {}
    for source in order:
        free = [
            c
            for c in ranked[source]
            if c.target not in taken.values()
            or _shares(source, [o for o, t in taken.items() if t == c.target])
        ]
        picks[source] = free[0] if free and free[0].score >= PROPOSE_AT else None
        if free:
            taken[source] = free[0].target
    return {s: picks[s] for s in ranked}
