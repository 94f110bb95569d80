"""Compile field rules: fields checked against the catalogue, transform chains built both ways.

Every problem is appended to the caller's list with its place in the file; a rule with problems
compiles to None so the rest of the file is still checked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from freshforce.mapping.catalogue import FieldCatalogue, System
from freshforce.mapping.expressions import Expression, ExpressionSyntaxError, compile_expression
from freshforce.mapping.model import Chain, FieldRule, Step
from freshforce.mapping.problems import PathPart, Problem, did_you_mean, format_path
from freshforce.mapping.resolve import BAD, contains_bad, resolve_values
from freshforce.mapping.schema import Direction, FieldRuleModel
from freshforce.mapping.transforms import (
    TRANSFORMS,
    Params,
    TransformDef,
    TransformError,
    template_fields,
)
from freshforce.mapping.yamlnodes import YamlDocument

__all__ = ["RuleScope", "compile_rule", "pydantic_problems"]

Path = tuple[PathPart, ...]
_ONE_WAY = {Direction.TO_SALESFORCE: (Direction.TO_SALESFORCE,)}


@dataclass(frozen=True)
class RuleScope:
    """What the rules of one list may name: objects on each side, named values, the catalogue."""

    doc: YamlDocument
    freshbooks_object: str
    salesforce_objects: tuple[str, ...]
    values: Mapping[str, Any]  # Any: named values
    catalogue: FieldCatalogue
    problems: list[Problem]

    def problem(self, path: Sequence[PathPart], message: str, *, key: bool = False) -> None:
        self.problems.append(self.doc.problem(path, message, key=key))


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
    from typing import get_args  # noqa: PLC0415

    from pydantic import BaseModel  # noqa: PLC0415

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


def compile_rule(
    scope: RuleScope, rule: FieldRuleModel, index: int, path: Path
) -> FieldRule | None:
    """Check and compile one rule; return None (with problems recorded) when it is wrong."""
    before = len(scope.problems)
    freshbooks = _refs(scope, System.FRESHBOOKS, rule.freshbooks, (*path, "freshbooks"))
    salesforce = _refs(scope, System.SALESFORCE, rule.salesforce, (*path, "salesforce"))
    name = rule.name or ", ".join(salesforce or freshbooks) or f"fields[{index}]"
    runs = _runs(rule.direction)
    if rule.direction is Direction.BOTH and not (rule.freshbooks and rule.salesforce):
        scope.problem(path, "a two-way rule needs fields on both sides; or set its direction")
        return None
    when = _expression(scope, rule.when, (*path, "when"))
    chains: dict[Direction, Chain] = {}
    for direction in runs:
        chain = _chain(scope, rule, direction, path, (freshbooks, salesforce))
        if chain is not None:
            chains[direction] = chain
    if len(scope.problems) > before:
        return None
    line = scope.doc.positions.of(path).line
    return FieldRule(
        index, name, line, freshbooks, salesforce, rule.direction, rule.policy,
        rule.required, when, chains,
    )  # fmt: skip


def _runs(direction: Direction) -> tuple[Direction, ...]:
    if direction is Direction.BOTH:
        return (Direction.TO_SALESFORCE, Direction.TO_FRESHBOOKS)
    return (direction,)


def _refs(
    scope: RuleScope, system: System, raw: str | list[str] | None, path: Path
) -> tuple[str, ...]:
    if raw is None:
        return ()
    items = [raw] if isinstance(raw, str) else raw
    refs: list[str] = []
    for position, ref in enumerate(items):
        where = path if isinstance(raw, str) else (*path, position)
        message = _ref_problem(scope, system, ref)
        if message:
            scope.problem(where, message)
        refs.append(ref)
    return tuple(refs)


def _ref_problem(scope: RuleScope, system: System, ref: str) -> str | None:
    if system is System.FRESHBOOKS:
        return scope.catalogue.field_problem(system, scope.freshbooks_object, ref)
    obj, dot, name = ref.partition(".")
    if not dot:
        hint = f" (e.g. {scope.salesforce_objects[0]}.{ref})" if scope.salesforce_objects else ""
        return f"write a Salesforce field as Object.Field{hint}"
    if obj not in scope.salesforce_objects:
        linked = ", ".join(scope.salesforce_objects)
        hint = did_you_mean(obj, scope.salesforce_objects)
        return f"object {obj!r} is not linked by this map (linked: {linked}){hint}"
    return scope.catalogue.field_problem(system, obj, name)


def _expression(scope: RuleScope, text: str | None, path: Path) -> Expression | None:
    if text is None:
        return None
    mark = scope.doc.positions.of(path)
    try:
        return compile_expression(text, mark, scope.values)
    except ExpressionSyntaxError as exc:
        scope.problems.append(
            Problem(scope.doc.name, exc.line, exc.column, format_path(path), str(exc))
        )
        return None


def _chain(
    scope: RuleScope,
    rule: FieldRuleModel,
    direction: Direction,
    path: Path,
    refs: tuple[tuple[str, ...], tuple[str, ...]],
) -> Chain | None:
    forward = direction is Direction.TO_SALESFORCE or rule.direction is not Direction.BOTH
    sources, targets = refs if direction is Direction.TO_SALESFORCE else refs[::-1]
    target_side = "salesforce" if direction is Direction.TO_SALESFORCE else "freshbooks"
    if not targets:
        scope.problem(path, f"a rule that runs {direction.value} needs {target_side} fields")
        return None
    if rule.direction is not Direction.BOTH and (
        rule.inverse is not None or rule.inverse_expression is not None
    ):
        key = "inverse" if rule.inverse is not None else "inverse_expression"
        scope.problem((*path, key), f"{key} is only for two-way rules (direction: both)", key=True)
    expression_text = rule.expression if forward else rule.inverse_expression
    expression_key = "expression" if forward else "inverse_expression"
    expression = _expression(scope, expression_text, (*path, expression_key))
    arity = 1 if expression_text is not None else len(sources)
    default, template = _default(scope, rule, direction, sources, path)
    if not sources and expression_text is None and rule.default is None:
        source_side = "freshbooks" if direction is Direction.TO_SALESFORCE else "salesforce"
        scope.problem(
            path,
            f"running {direction.value}, it needs {source_side} fields, an expression or a default",
        )
        return None
    if forward:
        steps = _steps(scope, rule.transform, (*path, "transform"), arity)
    elif rule.inverse is not None:
        steps = _steps(scope, rule.inverse, (*path, "inverse"), arity)
    else:
        steps = _derive_inverse(scope, rule, path, len(refs[0]))
    if steps is None:
        return None
    _check_arity(scope, steps, arity, targets, path, forward=forward or rule.inverse is not None)
    steps_only = tuple(step for step, _ in steps)
    return Chain(sources, targets, steps_only, expression, default, template)


def _default(
    scope: RuleScope,
    rule: FieldRuleModel,
    direction: Direction,
    sources: tuple[str, ...],
    path: Path,
) -> tuple[Any, bool]:
    # Any: a literal default.
    if rule.default is None:
        return None, False
    value = resolve_values(
        rule.default, (*path, "default"), scope.values, scope.doc, scope.problems
    )
    if contains_bad(value) or not isinstance(value, str) or not template_fields(value):
        return (None if contains_bad(value) else value), False
    system = System.FRESHBOOKS if direction is Direction.TO_SALESFORCE else System.SALESFORCE
    readable = all(_placeholder_ok(scope, system, name) for name in template_fields(value))
    if readable:
        return value, True
    if rule.direction is not Direction.BOTH or direction is Direction.TO_FRESHBOOKS:
        others = [d for d in _runs(rule.direction) if d is not direction]
        other_ok = others and all(
            _placeholder_ok(scope, System.FRESHBOOKS, n) for n in template_fields(value)
        )
        if not other_ok:
            fields = ", ".join(template_fields(value))
            scope.problem(
                (*path, "default"),
                f"default names {fields}, not all of them {system.value} fields read by this rule",
            )
    del sources
    return None, False


def _placeholder_ok(scope: RuleScope, system: System, name: str) -> bool:
    if system is System.FRESHBOOKS:
        return scope.catalogue.field_problem(system, scope.freshbooks_object, name) is None
    if "." not in name and scope.salesforce_objects:
        name = f"{scope.salesforce_objects[0]}.{name}"
    return _ref_problem(scope, system, name) is None


_Compiled = list[tuple[Step, int | None]]  # each step with the arity it receives


def _steps(
    scope: RuleScope, specs: Sequence[Any], path: Path, arity: int | None
) -> _Compiled | None:
    # Any: raw YAML step specs.
    compiled: _Compiled = []
    failed = False
    for position, spec in enumerate(specs):
        made = _step(scope, spec, (*path, position))
        if made is None:
            failed = True
            continue
        definition, params = made
        compiled.append((_build(definition, params), arity))
        arity = arity if definition.elementwise and arity != 1 else definition.arity(params, arity)
    return None if failed else compiled


def _build(definition: TransformDef[Any], params: Params) -> Step:
    return Step(definition.name, params, definition.build(params), definition.elementwise)


def _step(scope: RuleScope, spec: Any, path: Path) -> tuple[TransformDef[Any], Params] | None:  # noqa: ANN401
    # Any: a raw YAML step spec.
    if isinstance(spec, str):
        name, raw = spec, None
    elif isinstance(spec, dict) and len(spec) == 1:
        name, raw = next(iter(spec.items()))
    else:
        scope.problem(path, "a step is a transform name, or {name: parameters} with one name")
        return None
    definition = TRANSFORMS.get(str(name))
    if definition is None:
        scope.problem(
            path,
            f"unknown transform {name!r}{did_you_mean(str(name), TRANSFORMS)}",
            key=isinstance(spec, dict),
        )
        return None
    where = (*path, name) if isinstance(spec, dict) else path
    reference = raw if isinstance(raw, str) and raw.startswith("$") else None
    raw = resolve_values(raw, where, scope.values, scope.doc, scope.problems)
    if contains_bad(raw):
        return None
    fields = set(definition.params.model_fields)
    if raw is None:
        arguments: dict[str, Any] = {}
    elif isinstance(raw, dict) and raw and set(map(str, raw)) <= fields:
        arguments = {str(key): value for key, value in raw.items()}
    elif definition.shorthand is not None:
        arguments = {definition.shorthand: raw}
    else:
        scope.problem(
            where,
            f"{name} takes no parameters"
            if not fields
            else f"{name} takes {{{', '.join(sorted(fields))}}}",
        )
        return None
    try:
        params = definition.params.model_validate(arguments)
    except ValidationError as exc:
        for problem in pydantic_problems(scope.doc, exc, where, definition.params):
            suffix = f" (named value {reference})" if reference else ""
            scope.problems.append(
                Problem(
                    problem.file,
                    problem.line,
                    problem.column,
                    problem.path,
                    f"{name}: {problem.message}{suffix}",
                )
            )
        return None
    return definition, params


def _derive_inverse(
    scope: RuleScope, rule: FieldRuleModel, path: Path, arity: int | None
) -> _Compiled | None:
    if rule.expression is not None:
        scope.problem(
            (*path, "expression"),
            "an expression works one way only: give the rule inverse_expression or "
            "inverse steps, or a one-way direction",
            key=True,
        )
        return None
    forward = _steps(_quiet(scope), rule.transform, (*path, "transform"), arity)
    if forward is None:
        return None
    inverse: _Compiled = []
    for position in reversed(range(len(forward))):
        step, step_arity = forward[position]
        definition = TRANSFORMS[step.name]
        where = (*path, "transform", position)
        if definition.inverse is None:
            scope.problem(
                where,
                f"transform {step.name!r} works one way only, so this two-way rule cannot be "
                "reversed: give it `inverse:` steps or a one-way direction",
            )
            return None
        try:
            undo = definition.inverse(step.params, step_arity)
        except TransformError as exc:
            scope.problem(where, str(exc))
            return None
        inverse.extend((_build(TRANSFORMS[name], params), None) for name, params in undo)
    return inverse


def _quiet(scope: RuleScope) -> RuleScope:
    # The forward chain already reported its problems; compile it again without repeating them.
    return RuleScope(
        scope.doc,
        scope.freshbooks_object,
        scope.salesforce_objects,
        scope.values,
        scope.catalogue,
        [],
    )


def _check_arity(
    scope: RuleScope,
    steps: _Compiled,
    arity: int | None,
    targets: tuple[str, ...],
    path: Path,
    *,
    forward: bool,
) -> None:
    if not forward:
        return
    for step, _ in steps:
        definition = TRANSFORMS[step.name]
        arity = (
            arity if definition.elementwise and arity != 1 else definition.arity(step.params, arity)
        )
    if arity is not None and arity != len(targets) and not (arity == 0 and len(targets) == 1):
        noun = "value" if arity == 1 else "values"
        scope.problem(
            path, f"the transform chain gives {arity} {noun} for {len(targets)} target field(s)"
        )


del BAD, _ONE_WAY
