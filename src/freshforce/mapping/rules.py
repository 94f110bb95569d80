"""Compile field rules: fields checked against the catalogue, transform chains built both ways.

Every problem is appended to the caller's list with its place in the file; a rule with problems
compiles to None so the rest of the file is still checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from freshforce.mapping.catalogue import System
from freshforce.mapping.chains import check_arity, compile_steps, derive_inverse
from freshforce.mapping.expressions import Expression, ExpressionSyntaxError, compile_expression
from freshforce.mapping.model import Chain, FieldRule
from freshforce.mapping.problems import PathPart, Problem, did_you_mean, format_path
from freshforce.mapping.resolve import contains_bad, resolve_values
from freshforce.mapping.schema import Direction, FieldRuleModel
from freshforce.mapping.scope import RuleScope
from freshforce.mapping.transforms import template_fields

__all__ = ["compile_rule"]

Path = tuple[PathPart, ...]


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
    defaults = _defaults(scope, rule, path)
    for direction in runs:
        chain = _chain(scope, rule, direction, path, (freshbooks, salesforce), defaults)
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


def _chain(  # noqa: PLR0917  # one direction of one rule: every input it needs
    scope: RuleScope,
    rule: FieldRuleModel,
    direction: Direction,
    path: Path,
    refs: tuple[tuple[str, ...], tuple[str, ...]],
    defaults: dict[Direction, Any],
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
    default = defaults.get(direction)
    template = isinstance(default, _Template)
    if not sources and expression_text is None and rule.default is None:
        source_side = "freshbooks" if direction is Direction.TO_SALESFORCE else "salesforce"
        scope.problem(
            path,
            f"running {direction.value}, it needs {source_side} fields, an expression or a default",
        )
        return None
    if forward:
        steps = compile_steps(scope, rule.transform, (*path, "transform"), arity)
    elif rule.inverse is not None:
        steps = compile_steps(scope, rule.inverse, (*path, "inverse"), arity)
    else:
        steps = derive_inverse(scope, rule, path, len(refs[0]))
    if steps is None:
        return None
    check_arity(scope, steps, arity, targets, path, forward=forward or rule.inverse is not None)
    steps_only = tuple(step for step, _ in steps)
    text = default.text if isinstance(default, _Template) else default
    return Chain(sources, targets, steps_only, expression, text, template)


def _defaults(scope: RuleScope, rule: FieldRuleModel, path: Path) -> dict[Direction, Any]:
    """Return the default per direction it applies in.

    A literal applies everywhere; a template where the source record has its fields.
    """
    # Any: a literal default, or a template (Template) when it names fields.
    if rule.default is None:
        return {}
    where = (*path, "default")
    value = resolve_values(rule.default, where, scope.values, scope.doc, scope.problems)
    if contains_bad(value):
        return {}
    runs = _runs(rule.direction)
    names = template_fields(value) if isinstance(value, str) else []
    if not names:
        return dict.fromkeys(runs, value)
    readable = {
        direction: _Template(value)
        for direction in runs
        if all(_placeholder_ok(scope, _source_system(direction), name) for name in names)
    }
    if not readable:
        scope.problem(where, f"default names {', '.join(names)}: not fields this rule reads from")
    return readable


@dataclass(frozen=True)
class _Template:
    text: str


def _source_system(direction: Direction) -> System:
    return System.FRESHBOOKS if direction is Direction.TO_SALESFORCE else System.SALESFORCE


def _placeholder_ok(scope: RuleScope, system: System, name: str) -> bool:
    if system is System.FRESHBOOKS:
        return scope.catalogue.field_problem(system, scope.freshbooks_object, name) is None
    if "." not in name and scope.salesforce_objects:
        name = f"{scope.salesforce_objects[0]}.{name}"
    return _ref_problem(scope, system, name) is None
