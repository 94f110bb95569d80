"""Transform chains: each step checked and built, and a two-way rule's chain reversed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from freshforce.mapping.model import Step
from freshforce.mapping.problems import PathPart, Problem, did_you_mean
from freshforce.mapping.resolve import contains_bad, resolve_values
from freshforce.mapping.schema import FieldRuleModel
from freshforce.mapping.schema_problems import pydantic_problems
from freshforce.mapping.scope import RuleScope
from freshforce.mapping.transforms import TRANSFORMS, Params, TransformDef, TransformError

__all__ = ["Compiled", "check_arity", "compile_steps", "derive_inverse"]

Path = tuple[PathPart, ...]


Compiled = list[tuple[Step, int | None]]  # each step with the arity it receives


def compile_steps(
    scope: RuleScope, specs: Sequence[Any], path: Path, arity: int | None
) -> Compiled | None:
    # Any: raw YAML step specs.
    compiled: Compiled = []
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
            origin = scope.origins.get(reference[1:]) if reference else None
            suffix = f" (named value {reference}" if reference else ""
            suffix += f", {origin})" if origin else (")" if reference else "")
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


def derive_inverse(
    scope: RuleScope, rule: FieldRuleModel, path: Path, arity: int | None
) -> Compiled | None:
    if rule.expression is not None:
        scope.problem(
            (*path, "expression"),
            "an expression works one way only: give the rule inverse_expression or "
            "inverse steps, or a one-way direction",
            key=True,
        )
        return None
    forward = compile_steps(scope.quiet(), rule.transform, (*path, "transform"), arity)
    if forward is None:
        return None
    inverse: Compiled = []
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


def check_arity(
    scope: RuleScope,
    steps: Compiled,
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
