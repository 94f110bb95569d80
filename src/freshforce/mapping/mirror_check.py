"""Checks of a mirror flow file beyond its schema: one way, and the fields it names exist.

``prepare_mirror`` runs before the rules compile: a mirror writes to Salesforce only, so a rule
without a ``direction`` is ``to_salesforce`` and any other direction is a problem.
``check_mirror`` checks the ``mirror:`` section's fields against the catalogue.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from freshforce.mapping.catalogue import FieldCatalogue, System
from freshforce.mapping.mirror_schema import MirrorModel
from freshforce.mapping.problems import PathPart, Problem
from freshforce.mapping.schema import Direction, FlowModel
from freshforce.mapping.yamlnodes import YamlDocument

__all__ = ["check_mirror", "prepare_mirror"]

MIRROR = "mirror"


def prepare_mirror(doc: YamlDocument, problems: list[Problem]) -> None:
    """Give a mirror file's rules the ``to_salesforce`` direction; report any other direction."""
    data = doc.data
    if not isinstance(data, dict) or data.get("flow") != MIRROR:
        return
    lines = data.get("lines")
    lists: list[tuple[tuple[PathPart, ...], Any]] = [(("fields",), data.get("fields"))]
    if isinstance(lines, dict):
        lists.append((("lines", "fields"), lines.get("fields")))
    for path, rules in lists:
        for index, rule in enumerate(rules if isinstance(rules, list) else []):
            if not isinstance(rule, dict):
                continue
            direction = rule.setdefault("direction", Direction.TO_SALESFORCE.value)
            if direction != Direction.TO_SALESFORCE.value:
                problems.append(
                    doc.problem(
                        (*path, index, "direction"),
                        f"a mirror flow writes to Salesforce only; say to_salesforce, not "
                        f"{direction!r}",
                    )
                )


def check_mirror(
    doc: YamlDocument, model: FlowModel, catalogue: FieldCatalogue, problems: list[Problem]
) -> None:
    """Report a mirror section missing, misplaced, or naming unknown fields."""
    spec = model.mirror
    if model.flow != MIRROR:
        if spec is not None:
            problems.append(
                doc.problem(("mirror",), "only a flow: mirror file has a mirror: section", key=True)
            )
        return
    if spec is None:
        problems.append(
            doc.problem(("flow",), "a mirror flow needs a mirror: section (external_id, ...)")
        )
        return
    target = model.link.salesforce
    if not isinstance(target, str):
        problems.append(
            doc.problem(("link", "salesforce"), "a mirror flow writes one Salesforce object")
        )
        return

    def field(path: tuple[PathPart, ...], obj: str, name: str) -> None:
        found = catalogue.field_problem(System.SALESFORCE, obj, name)
        if found is not None:
            problems.append(doc.problem(path, found))

    field(("mirror", "external_id"), target, spec.external_id)
    _lookups(doc, spec, target, field, problems)
    if spec.guard is not None:
        field(("mirror", "guard", "field"), target, spec.guard.field)
    if spec.lines is not None:
        if model.lines is None:
            problems.append(
                doc.problem(("mirror", "lines"), "mirror: lines needs a lines: section")
            )
            return
        child = model.lines.salesforce
        field(("mirror", "lines", "parent"), child, spec.lines.parent)
        field(("mirror", "lines", "external_id"), child, spec.lines.external_id)


def _lookups(
    doc: YamlDocument,
    spec: MirrorModel,
    target: str,
    field: Callable[[tuple[PathPart, ...], str, str], None],
    problems: list[Problem],
) -> None:
    for index, lookup in enumerate(spec.lookups):
        where: tuple[PathPart, ...] = ("mirror", "lookups", index)
        field((*where, "field"), target, lookup.field)
        if lookup.link is None and (lookup.object is None or lookup.by is None):
            problems.append(doc.problem(where, "a lookup names link: clients, or object and by"))
        if lookup.object is not None and lookup.by is not None:
            field((*where, "by"), lookup.object, lookup.by)
