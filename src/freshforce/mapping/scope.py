"""What the rules of one list may name, and where their problems go."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from freshforce.mapping.catalogue import FieldCatalogue
from freshforce.mapping.problems import PathPart, Problem
from freshforce.mapping.yamlnodes import YamlDocument

__all__ = ["RuleScope"]


@dataclass(frozen=True)
class RuleScope:
    """What the rules of one list may name: objects on each side, named values, the catalogue."""

    doc: YamlDocument
    freshbooks_object: str
    salesforce_objects: tuple[str, ...]
    values: Mapping[str, Any]  # Any: named values
    catalogue: FieldCatalogue
    problems: list[Problem]
    origins: Mapping[str, str] = field(default_factory=dict)  # named value -> file:line

    def problem(self, path: Sequence[PathPart], message: str, *, key: bool = False) -> None:
        self.problems.append(self.doc.problem(path, message, key=key))

    def quiet(self) -> RuleScope:
        """Return this scope with its own problem list, for a second pass that must not repeat."""
        return replace(self, problems=[])
