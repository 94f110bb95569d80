"""Read a YAML file into plain data plus the line and column of every key and value.

The positions come from PyYAML's own node marks (``compose``), so a problem deep in a list of
rules points at the exact place, whatever the quoting or flow style.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from freshforce.mapping.problems import PathPart, Problem, format_path

__all__ = ["Mark", "Positions", "YamlDocument", "read_yaml"]


@dataclass(frozen=True, slots=True)
class Mark:
    """A place in a file, 1-based; a scalar's quoting style (None: plain) and block indent."""

    line: int
    column: int
    style: str | None = None
    indent: int = 0


@dataclass(slots=True)
class Positions:
    """Where each value (and each mapping key) of a document starts, by key path."""

    values: dict[tuple[PathPart, ...], Mark] = field(default_factory=dict)
    keys: dict[tuple[PathPart, ...], Mark] = field(default_factory=dict)

    def of(self, path: Sequence[PathPart], *, key: bool = False) -> Mark:
        """Return the mark of ``path`` (its key with ``key=True``), else its nearest ancestor."""
        parts = tuple(path)
        while True:
            found = self.keys.get(parts) if key else None
            found = found or self.values.get(parts)
            if found is not None or not parts:
                return found or Mark(1, 1)
            parts = parts[:-1]


@dataclass(slots=True)
class YamlDocument:
    """A parsed file: its data (None when unreadable), positions and parse problems."""

    name: str
    text: str
    data: Any  # Any: untyped YAML until the schema validates it
    positions: Positions
    problems: list[Problem]

    def problem(self, path: Sequence[PathPart], message: str, *, key: bool = False) -> Problem:
        """Build a :class:`Problem` located at ``path``."""
        mark = self.positions.of(path, key=key)
        return Problem(self.name, mark.line, mark.column, format_path(path), message)


def read_yaml(name: str, text: str) -> YamlDocument:
    """Parse ``text`` (named ``name`` in problems); syntax errors become problems, not raises."""
    positions = Positions()
    document = YamlDocument(name, text, None, positions, [])
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            document.data = _Walker(loader, positions, document).value(node, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        document.problems.append(Problem(name, line, column, "", f"YAML: {exc.problem}"))
    except yaml.YAMLError as exc:
        document.problems.append(Problem(name, 0, 0, "", f"YAML: {exc}"))
    finally:
        loader.dispose()
    return document


class _Walker:
    def __init__(self, loader: yaml.SafeLoader, positions: Positions, doc: YamlDocument) -> None:
        self.loader = loader
        self.positions = positions
        self.doc = doc

    def value(self, node: yaml.Node, path: tuple[PathPart, ...]) -> Any:  # noqa: ANN401
        # Any: YAML values are untyped until the schema validates them.
        mark = node.start_mark
        style = getattr(node, "style", None)
        indent = self._block_indent(mark.line + 1) if style in {"|", ">"} else 0
        self.positions.values[path] = Mark(mark.line + 1, mark.column + 1, style, indent)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.value(item, (*path, index)) for index, item in enumerate(node.value)]
        return self.loader.construct_object(node, deep=True)

    def _block_indent(self, line: int) -> int:
        # A block scalar's text starts on the line after its mark; its indent is that line's.
        lines = self.doc.text.splitlines()
        text = lines[line] if line < len(lines) else ""
        return len(text) - len(text.lstrip(" "))

    def _mapping(self, node: yaml.MappingNode, path: tuple[PathPart, ...]) -> dict[Any, Any]:
        self.loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self.loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool):
                key = str(key)
            child = (*path, key if isinstance(key, str | int) else str(key))
            mark = key_node.start_mark
            self.positions.keys[child] = Mark(mark.line + 1, mark.column + 1)
            if key in result:
                self.doc.problems.append(
                    Problem(
                        self.doc.name,
                        mark.line + 1,
                        mark.column + 1,
                        format_path(child),
                        "duplicate key; the later one would silently win",
                    )
                )
            result[key] = self.value(value_node, child)
        return result
