"""Named values: ``$name`` references in a map, replaced by the value from ``values.yaml``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from freshforce.mapping.problems import PathPart, Problem, did_you_mean
from freshforce.mapping.yamlnodes import YamlDocument

__all__ = ["BAD", "NAME", "contains_bad", "resolve_values"]

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_REFERENCE = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")


class _Bad:
    """A reference that could not be resolved (already reported)."""


BAD: Any = _Bad()  # Any: stands in for any value


def resolve_values(
    raw: Any,  # noqa: ANN401  # Any: untyped YAML
    path: tuple[PathPart, ...],
    values: Mapping[str, Any],
    doc: YamlDocument,
    problems: list[Problem],
) -> Any:  # noqa: ANN401
    """Replace each ``"$name"`` string in ``raw`` by its named value; ``"$$x"`` is ``"$x"``."""
    if isinstance(raw, str):
        return _reference(raw, path, values, doc, problems)
    if isinstance(raw, list):
        return [
            resolve_values(item, (*path, i), values, doc, problems) for i, item in enumerate(raw)
        ]
    if isinstance(raw, dict):
        return {
            key: resolve_values(item, (*path, key), values, doc, problems)
            for key, item in raw.items()
        }
    return raw


def _reference(
    raw: str,
    path: tuple[PathPart, ...],
    values: Mapping[str, Any],
    doc: YamlDocument,
    problems: list[Problem],
) -> Any:  # noqa: ANN401
    # Any: a named value is any YAML value.
    if raw.startswith("$$"):
        return raw[1:]
    match = _REFERENCE.match(raw)
    if match is None:
        return raw
    name = match.group(1)
    if name not in values:
        hint = did_you_mean(f"${name}", [f"${known}" for known in values])
        problems.append(doc.problem(path, f"unknown named value ${name}{hint}"))
        return BAD
    return values[name]


def contains_bad(value: object) -> bool:
    """Say whether a resolved value holds an unresolved reference."""
    if value is BAD:
        return True
    if isinstance(value, list):
        return any(contains_bad(item) for item in value)
    if isinstance(value, dict):
        return any(contains_bad(item) for item in value.values())
    return False
