"""Compile one flow file and ``values.yaml`` into immutable maps, collecting every problem."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from freshforce.mapping.catalogue import FieldCatalogue, System
from freshforce.mapping.hooks import Hook, resolve_hook
from freshforce.mapping.mirror_check import check_mirror, prepare_mirror
from freshforce.mapping.model import FieldRule, FlowMap, LineRules
from freshforce.mapping.problems import PathPart, Problem, did_you_mean
from freshforce.mapping.resolve import NAME
from freshforce.mapping.rules import compile_rule
from freshforce.mapping.schema import (
    CustomMatch,
    FieldRuleModel,
    FlowModel,
    LinkModel,
    MatchStrategy,
    ValuesModel,
)
from freshforce.mapping.schema_problems import pydantic_problems
from freshforce.mapping.scope import RuleScope
from freshforce.mapping.yamlnodes import YamlDocument

__all__ = ["compile_flow", "compile_values"]

# Where each side's child lines live in a record (see docs/mapping.md, "Records").
FRESHBOOKS_LINES = "lines"


def compile_values(
    docs: list[YamlDocument],
    profile: str | None,
    problems: list[Problem],
    origins: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Merge the named values of ``docs`` (shipped first), then the profile's overrides.

    ``origins`` (when given) receives ``file:line`` of each value in effect.
    """
    origins = {} if origins is None else origins
    # Any: named values are scalars, lists or tables.
    values: dict[str, Any] = {}
    overrides: list[tuple[YamlDocument, dict[str, Any]]] = []
    for doc in docs:
        if doc.data is None:
            continue
        try:
            model = ValuesModel.model_validate(doc.data)
        except ValidationError as exc:
            problems.extend(pydantic_problems(doc, exc, (), ValuesModel))
            continue
        for name, value in model.values.items():
            if not NAME.match(name):
                problems.append(
                    doc.problem(
                        ("values", name), f"name {name!r} must be letters, digits and _", key=True
                    )
                )
            values[name] = value
            origins[name] = _where(doc, ("values", name))
        if profile is not None and profile in model.profiles:
            overrides.append((doc, model.profiles[profile]))
        problems.extend(_unknown_overrides(doc, model, values))
    for doc, table in overrides:
        values.update(table)
        for name in table:
            origins[name] = _where(doc, ("profiles", profile or "", name))
    return values


def _where(doc: YamlDocument, path: tuple[PathPart, ...]) -> str:
    return f"{doc.name}:{doc.positions.of(path).line}"


def _unknown_overrides(
    doc: YamlDocument, model: ValuesModel, values: Mapping[str, Any]
) -> list[Problem]:
    # Any: named values.
    return [
        doc.problem(
            ("profiles", section, name),
            f"profile {section} overrides unknown value {name!r}{did_you_mean(name, values)}",
            key=True,
        )
        for section, table in model.profiles.items()
        for name in table
        if name not in values
    ]


def compile_flow(
    doc: YamlDocument,
    expected: str,
    *,
    values: Mapping[str, Any],
    catalogue: FieldCatalogue,
    content_hash: str,
    origins: Mapping[str, str] | None = None,
) -> tuple[FlowMap | None, list[Problem]]:
    """Check and compile one flow file; return the map (None when wrong) and its problems."""
    problems: list[Problem] = list(doc.problems)
    origins = origins or {}
    if doc.data is None:
        if not problems:
            problems.append(doc.problem((), "the file is empty"))
        return None, problems
    if not isinstance(doc.data, dict):
        problems.append(
            doc.problem((), "a flow file is a mapping of keys (flow, link, fields, ...)")
        )
        return None, problems
    prepare_mirror(doc, problems)
    model: FlowModel | None = None
    try:
        model = FlowModel.model_validate(doc.data)
    except ValidationError as exc:
        problems.extend(pydantic_problems(doc, exc, (), FlowModel))
    if model is not None and model.flow != expected:
        problems.append(
            doc.problem(("flow",), f"this file is {expected}.yaml but says flow: {model.flow}")
        )
    if model is not None:
        check_mirror(doc, model, catalogue, problems)
    link = model.link if model else _partial(LinkModel, doc.data.get("link"))
    if link is None:
        return None, problems
    salesforce = (link.salesforce,) if isinstance(link.salesforce, str) else tuple(link.salesforce)
    _check_link(doc, catalogue, link.freshbooks, salesforce, problems)
    scope = RuleScope(doc, link.freshbooks, salesforce, values, catalogue, problems, origins)
    rules = _rules(scope, doc.data.get("fields"), ("fields",))
    lines = _lines(scope, doc.data.get("lines"))
    hooks = _hooks(doc, model, problems)
    match = _match(doc, model, problems)
    if model is None or problems:
        return None, problems
    flow = FlowMap(
        flow=model.flow,
        file=doc.name,
        content_hash=content_hash,
        freshbooks_object=link.freshbooks,
        salesforce_objects=salesforce,
        match=match,
        deletes=MappingProxyType(
            {
                System.FRESHBOOKS: model.deletes.freshbooks,
                System.SALESFORCE: model.deletes.salesforce,
            }
        ),
        rules=rules,
        lines=lines,
        hooks=hooks,
        values=MappingProxyType(dict(values)),
        mirror=model.mirror,
        anomalies=model.anomalies,
    )
    return flow, problems


def _partial(model: type[LinkModel], raw: object) -> LinkModel | None:
    try:
        return model.model_validate(raw)
    except ValidationError:
        return None


def _check_link(
    doc: YamlDocument,
    catalogue: FieldCatalogue,
    freshbooks: str,
    salesforce: tuple[str, ...],
    problems: list[Problem],
) -> None:
    if freshbooks not in catalogue.objects(System.FRESHBOOKS):
        hint = did_you_mean(freshbooks, catalogue.objects(System.FRESHBOOKS))
        problems.append(
            doc.problem(("link", "freshbooks"), f"unknown FreshBooks object {freshbooks!r}{hint}")
        )
    for position, obj in enumerate(salesforce):
        if obj not in catalogue.objects(System.SALESFORCE) and not obj.endswith("__c"):
            hint = did_you_mean(obj, catalogue.objects(System.SALESFORCE))
            path: tuple[PathPart, ...] = (
                ("link", "salesforce") if len(salesforce) == 1 else ("link", "salesforce", position)
            )
            problems.append(doc.problem(path, f"unknown Salesforce object {obj!r}{hint}"))


def _rules(scope: RuleScope, raw: Any, path: tuple[PathPart, ...]) -> tuple[FieldRule, ...]:  # noqa: ANN401
    # Any: raw YAML; each rule is validated on its own so one bad rule hides no other.
    if not isinstance(raw, list):
        return ()
    compiled: list[FieldRule] = []
    for index, item in enumerate(raw):
        try:
            rule = FieldRuleModel.model_validate(item)
        except ValidationError:
            continue  # reported by the whole-file validation
        made = compile_rule(scope, rule, index, (*path, index))
        if made is not None:
            compiled.append(made)
    return tuple(compiled)


def _lines(scope: RuleScope, raw: Any) -> LineRules | None:  # noqa: ANN401
    # Any: raw YAML.
    if not isinstance(raw, dict) or not isinstance(raw.get("salesforce"), str):
        return None
    obj = str(raw.get("freshbooks", "line"))
    child = replace(scope, freshbooks_object=obj, salesforce_objects=(raw["salesforce"],))
    _check_link(scope.doc, scope.catalogue, obj, (raw["salesforce"],), scope.problems)
    rules = _rules(child, raw.get("fields"), ("lines", "fields"))
    return LineRules(FRESHBOOKS_LINES, raw["salesforce"], rules)


def _hooks(doc: YamlDocument, model: FlowModel | None, problems: list[Problem]) -> tuple[Hook, ...]:
    if model is None:
        return ()
    raw = model.hooks.before_write
    paths = [raw] if isinstance(raw, str) else raw
    hooks: list[Hook] = []
    for position, path in enumerate(paths):
        where: tuple[PathPart, ...] = ("hooks", "before_write")
        where = where if isinstance(raw, str) else (*where, position)
        found = resolve_hook(path)
        if isinstance(found, str):
            problems.append(doc.problem(where, found))
        else:
            hooks.append(Hook(path, found, doc.positions.of(where).line))
    return tuple(hooks)


def _match(
    doc: YamlDocument, model: FlowModel | None, problems: list[Problem]
) -> tuple[MatchStrategy | str, ...]:
    if model is None:
        return ()
    result: list[MatchStrategy | str] = []
    for position, item in enumerate(model.match):
        if item is MatchStrategy.STORED_LINK and position:
            problems.append(
                doc.problem(
                    ("match", position),
                    "stored_link is always tried first; list it first or leave it out",
                )
            )
        if isinstance(item, CustomMatch):
            found = resolve_hook(item.custom)
            if isinstance(found, str):
                problems.append(doc.problem(("match", position, "custom"), found))
            result.append(item.custom)
        else:
            result.append(item)
    return tuple(result)
