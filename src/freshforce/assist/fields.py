"""The two kinds of field a suggestion pairs: a source with sampled values, a described target."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SourceField", "TargetField", "targets_from_describe"]

# Describe types that never receive a mapped value: ids, lookups, compound and binary fields.
_NEVER_WRITTEN = frozenset({"id", "reference", "address", "location", "base64", "anyType"})


@dataclass(frozen=True)
class TargetField:
    """One field of the target system, as its describe tells it."""

    obj: str
    name: str
    label: str
    type: str
    createable: bool = True
    updateable: bool = True
    calculated: bool = False
    external_id: bool = False
    picklist: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.obj}.{self.name}"

    def refusal(self) -> str | None:
        """Return why no mapping may write this field, or ``None`` when one may."""
        if self.calculated:
            return "calculated"
        if not self.createable:
            return "not createable"
        if not self.updateable and not self.external_id:
            return "not updateable"
        if self.type in _NEVER_WRITTEN:
            return f"type {self.type}"
        return None


@dataclass(frozen=True)
class SourceField:
    """One unmapped field of the source system, with values sampled from its records."""

    obj: str
    name: str
    label: str = ""
    samples: tuple[object, ...] = ()
    # Target ref -> (source value, target value) of records already linked.
    linked: Mapping[str, Sequence[tuple[object, object]]] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.obj}.{self.name}"


def targets_from_describe(obj: str, fields: Iterable[Mapping[str, Any]]) -> list[TargetField]:
    """Build targets from the ``fields`` of a describe body (``Any``: JSON at the wire)."""
    return [
        TargetField(
            obj=obj,
            name=str(f["name"]),
            label=str(f.get("label") or ""),
            type=str(f.get("type") or "string"),
            createable=bool(f.get("createable", False)),
            updateable=bool(f.get("updateable", False)),
            calculated=bool(f.get("calculated", False)),
            external_id=bool(f.get("externalId", False)),
            picklist=tuple(
                str(p["value"]) for p in f.get("picklistValues") or () if p.get("active", True)
            ),
        )
        for f in fields
    ]
