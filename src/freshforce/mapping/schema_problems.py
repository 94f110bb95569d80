"""Pydantic validation errors as problems at the YAML node of each key path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from freshforce.mapping.problems import PathPart, Problem, did_you_mean
from freshforce.mapping.yamlnodes import YamlDocument

__all__ = ["pydantic_problems"]

Path = tuple[PathPart, ...]


def pydantic_problems(
    doc: YamlDocument,
    exc: ValidationError,
    base: Path,
    model: Any,  # noqa: ANN401
) -> list[Problem]:
    """Turn pydantic errors into problems at the YAML node of each key path."""
    # Any: the pydantic model class whose fields are suggested for unknown keys.
    grouped: dict[Path, list[str]] = {}
    keys: set[Path] = set()
    for error in exc.errors(include_url=False):
        path = _data_path(doc.data, base, error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            known = _known_keys(model, path[len(base) :])
            message = f"unknown key {path[-1]!r}{did_you_mean(str(path[-1]), known)}"
            keys.add(path)
        elif error["type"] in {"enum", "literal_error"}:
            expected = str(error.get("ctx", {}).get("expected", ""))
            choices = [part.strip(" '") for part in expected.replace(" or ", ",").split(",")]
            message += did_you_mean(str(error.get("input")), choices)
        grouped.setdefault(path, [])
        if message not in grouped[path]:
            grouped[path].append(message)
    return [
        doc.problem(path, "; or ".join(messages), key=path in keys)
        for path, messages in grouped.items()
    ]


def _data_path(data: Any, base: Path, loc: Sequence[PathPart]) -> Path:  # noqa: ANN401
    # Any: untyped YAML; pydantic adds union member tags to loc that the data does not have.
    node: Any = data
    for part in base:
        node = _child(node, part)
    path = list(base)
    for part in loc:
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and part < len(node)
        ):
            node = _child(node, part)
            path.append(part)
        elif isinstance(node, dict) and isinstance(part, str) and part.isidentifier():
            path.append(part)  # a missing or unknown key: point at it by name
            node = None
    return tuple(path)


def _child(node: Any, part: PathPart) -> Any:  # noqa: ANN401
    # Any: untyped YAML.
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and part < len(node):
        return node[part]
    return None


def _known_keys(model: Any, path: Path) -> list[str]:  # noqa: ANN401
    # Any: walks pydantic field annotations down to the model that holds the unknown key.
    current: Any = model
    for part in path[:-1]:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", {})
        info = fields.get(part)
        if info is None:
            return []
        candidates = [info.annotation, *get_args(info.annotation)]
        candidates += [arg for c in candidates for arg in get_args(c)]
        models = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not models:
            return []
        current = models[0]
    return list(getattr(current, "model_fields", {}))
