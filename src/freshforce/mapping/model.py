"""The compiled, immutable map of a flow, and applying it to one source record."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

from freshforce.mapping.anomalies_schema import AnomaliesModel
from freshforce.mapping.catalogue import System
from freshforce.mapping.expressions import Expression, expression_input
from freshforce.mapping.hooks import Hook, HookContext, HookDecision, run_hooks
from freshforce.mapping.merge import FieldComparison, compare_snapshots
from freshforce.mapping.mirror_schema import MirrorModel
from freshforce.mapping.problems import MappingRecordError
from freshforce.mapping.schema import DeletePolicy, Direction, MatchStrategy, Policy
from freshforce.mapping.transforms import (
    PENDING,
    LookupKey,
    Params,
    RateSource,
    RateUsed,
    StepContext,
    StepFn,
    TransformError,
    is_empty,
    render_template,
)

__all__ = [
    "Chain",
    "FieldRule",
    "FieldTrace",
    "FlowMap",
    "LineRules",
    "MapSet",
    "MappedRecord",
    "Step",
]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Step:
    """One compiled transform step."""

    name: str
    params: Params
    run: StepFn
    elementwise: bool


@dataclass(frozen=True, slots=True)
class Chain:
    """How one rule maps in one direction: what it reads, its steps, its default, its targets."""

    sources: tuple[str, ...]
    targets: tuple[str, ...]
    steps: tuple[Step, ...]
    expression: Expression | None = None
    default: Any = None  # Any: a literal default, or a template when ``template`` is set
    template: bool = False
    reads: tuple[tuple[str, str], ...] = field(init=False)

    def __post_init__(self) -> None:
        # (object, field) per source ref; object "" for a FreshBooks field.
        reads = tuple((obj, name) for obj, _, name in (ref.rpartition(".") for ref in self.sources))
        object.__setattr__(self, "reads", reads)


@dataclass(frozen=True, slots=True)
class FieldRule:
    """A compiled field rule; ``freshbooks``/``salesforce`` hold field refs (``Account.Name``)."""

    index: int
    name: str
    line: int
    freshbooks: tuple[str, ...]
    salesforce: tuple[str, ...]
    direction: Direction
    policy: Policy
    required: bool
    when: Expression | None
    chains: Mapping[Direction, Chain]

    def sides(self, direction: Direction) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Return (source refs, target refs) for ``direction``."""
        if direction is Direction.TO_SALESFORCE:
            return self.freshbooks, self.salesforce
        return self.salesforce, self.freshbooks


class FieldTrace(NamedTuple):
    """How one target field got its value: the rule, the source value and each step's output."""

    rule: str
    line: int
    source_fields: tuple[str, ...]
    source_value: Any  # Any: wire values
    steps: tuple[tuple[str, Any], ...]
    rate: RateUsed | None = None
    default_used: bool = False


@dataclass(frozen=True, slots=True)
class MappedRecord:
    """Target field values (by ref), a trace per field, and the mapped child lines."""

    values: Mapping[str, Any]
    traces: Mapping[str, FieldTrace]
    lines: tuple[MappedRecord, ...] = ()

    def by_object(self) -> dict[str, dict[str, Any]]:
        """Split ``Object.Field`` refs into one dict per object; FreshBooks fields under ''."""
        result: dict[str, dict[str, Any]] = {}
        for ref, value in self.values.items():
            obj, _, name = ref.rpartition(".")
            result.setdefault(obj, {})[name] = value
        return result


@dataclass(frozen=True, slots=True)
class LineRules:
    """The rules for child lines: where the lists are on each side."""

    freshbooks: str
    salesforce: str
    rules: tuple[FieldRule, ...]


@dataclass(frozen=True)
class FlowMap:
    """One flow's compiled map: immutable, with the hash of everything it was built from."""

    flow: str
    file: str
    content_hash: str
    freshbooks_object: str
    salesforce_objects: tuple[str, ...]
    match: tuple[MatchStrategy | str, ...]
    deletes: Mapping[System, DeletePolicy]
    rules: tuple[FieldRule, ...]
    lines: LineRules | None = None
    hooks: tuple[Hook, ...] = ()
    values: Mapping[str, Any] = field(default_factory=dict)
    mirror: MirrorModel | None = None  # a mirror flow's keys, lookups, guard and lines
    anomalies: AnomaliesModel = field(default_factory=AnomaliesModel)  # the write guard's

    def apply(
        self,
        record: Mapping[str, Any],
        direction: Direction,
        *,
        lookups: Mapping[LookupKey, object] | None = None,
        rates: RateSource | None = None,
        record_key: str | None = None,
    ) -> MappedRecord:
        """Map one source record (the side ``direction`` reads) to target values with traces.

        A Salesforce record is ``{"Account": {...}, "Contact": {...}}``; a FreshBooks one is
        the object itself. Raise :class:`MappingRecordError` naming file, line, rule, record.
        """
        key = record_key or self._record_key(record, direction)
        run = _Run(self, direction=direction, key=key, lookups=lookups, rates=rates, wanted=None)
        return run.record(record)

    def lookup_keys(self, record: Mapping[str, Any], direction: Direction) -> set[LookupKey]:
        """Return every lookup mapping ``record`` needs, for the engine to resolve in a batch."""
        wanted: set[LookupKey] = set()
        _Run(self, direction=direction, key=None, lookups=None, rates=None, wanted=wanted).record(
            record
        )
        return wanted

    def compare(
        self,
        base: Mapping[str, Any] | None,
        freshbooks: Mapping[str, Any],
        salesforce: Mapping[str, Any],
    ) -> dict[str, FieldComparison]:
        """Three-way compare of snapshots keyed by Salesforce refs (``Account.Name``)."""
        return compare_snapshots(base, freshbooks, salesforce, self.policies())

    def policies(self) -> dict[str, Policy]:
        """Return each Salesforce field ref's conflict policy."""
        return {ref: rule.policy for rule in self.rules for ref in rule.salesforce}

    def run_hooks(self, context: HookContext) -> HookDecision:
        """Run the flow's before-write hooks on a planned change."""
        return run_hooks(self.hooks, context)

    def _record_key(self, record: Mapping[str, Any], direction: Direction) -> str:
        if direction is Direction.TO_SALESFORCE:
            return f"freshbooks/{self.freshbooks_object}/{record.get('id')}"
        primary = self.salesforce_objects[0]
        inner = record.get(primary)
        ident = inner.get("Id") if isinstance(inner, Mapping) else None
        return f"salesforce/{primary}/{ident}"


@dataclass(frozen=True)
class MapSet:
    """Every flow's compiled map from one directory and profile."""

    flows: Mapping[str, FlowMap]
    profile: str | None
    values: Mapping[str, Any]
    sources: Mapping[str, str]

    def __getitem__(self, flow: str) -> FlowMap:
        return self.flows[flow]


class _Run:
    """One record's trip through a flow's rules in one direction."""

    def __init__(  # every input of one run, passed by name
        self,
        flow: FlowMap,
        *,
        direction: Direction,
        key: str | None,
        lookups: Mapping[LookupKey, object] | None,
        rates: RateSource | None,
        wanted: set[LookupKey] | None,
    ) -> None:
        if direction is Direction.BOTH:
            raise ValueError("apply a map to_salesforce or to_freshbooks, not both")
        self.flow, self.direction, self.key = flow, direction, key
        self.lookups, self.rates, self.wanted = lookups, rates, wanted
        self.reads_salesforce = direction is Direction.TO_FRESHBOOKS

    def record(self, record: Mapping[str, Any]) -> MappedRecord:
        primary = self.flow.salesforce_objects[0] if self.reads_salesforce else None
        values, traces = self.rules(self.flow.rules, record, primary)
        lines: tuple[MappedRecord, ...] = ()
        if self.flow.lines is not None:
            lines = tuple(self._lines(self.flow.lines, record))
        return MappedRecord(values, traces, lines)

    def _lines(self, spec: LineRules, record: Mapping[str, Any]) -> list[MappedRecord]:
        if self.reads_salesforce:
            items = record.get(spec.salesforce) or []
            wrapped = [{spec.salesforce: item} for item in items]
            primary: str | None = spec.salesforce
        else:
            wrapped = list(record.get(spec.freshbooks) or [])
            primary = None
        return [MappedRecord(*self.rules(spec.rules, item, primary)) for item in wrapped]

    def rules(
        self, rules: tuple[FieldRule, ...], record: Mapping[str, Any], primary: str | None
    ) -> tuple[dict[str, Any], dict[str, FieldTrace]]:
        values: dict[str, Any] = {}
        traces: dict[str, FieldTrace] = {}
        data = expression_input(record, primary) if primary else record
        context = StepContext(data, self.lookups, self.rates, self.wanted)
        for rule in rules:
            chain = rule.chains.get(self.direction)
            if chain is None:
                continue
            context.rate_used = None
            try:
                self._rule(rule, chain, record, context, values, traces)
            except TransformError as exc:
                if self.wanted is not None:
                    continue
                message = (
                    f"{self.flow.file}:{rule.line}: rule {rule.name!r}, record {self.key}: {exc}"
                )
                raise MappingRecordError(message, flow=self.flow.flow, record_key=self.key) from exc
        return values, traces

    def _rule(  # noqa: PLR0917  # the hot path: one call per rule and record, kept flat
        self,
        rule: FieldRule,
        chain: Chain,
        record: Mapping[str, Any],
        context: StepContext,
        values: dict[str, Any],
        traces: dict[str, FieldTrace],
    ) -> None:
        if rule.when is not None and not rule.when.evaluate(context.record):
            return
        source = _source(chain, record, context.record)
        if chain.default is not None and is_empty(source):
            value = chain.default
            if chain.template:
                value = render_template(value, context.record)
            steps: tuple[tuple[str, Any], ...] = ()
            used_default = True
        else:
            value, steps = _run_steps(chain.steps, source, context)
            used_default = False
        if value is PENDING or self.wanted is not None:
            return
        trace = FieldTrace(
            rule.name, rule.line, chain.sources, source, steps, context.rate_used, used_default
        )
        targets = chain.targets
        if len(targets) == 1:
            if isinstance(value, list) and len(value) == 1:
                value = value[0]
            pairs: Any = ((targets[0], value),)
        elif isinstance(value, list) and len(value) == len(targets):
            pairs = zip(targets, value, strict=True)
        else:
            raise TransformError(f"the rule gives {value!r} for {len(targets)} fields")
        for ref, item in pairs:
            if rule.required and is_empty(item):
                raise TransformError(f"{ref} is required but the value is empty")
            values[ref] = item
            traces[ref] = trace


def _source(chain: Chain, record: Mapping[str, Any], data: Mapping[str, Any]) -> Any:  # noqa: ANN401
    # Any: wire values.
    if chain.expression is not None:
        return chain.expression.evaluate(data)
    reads = chain.reads
    if len(reads) == 1:
        return _read(record, *reads[0])
    return [_read(record, obj, name) for obj, name in reads]


def _run_steps(
    steps: tuple[Step, ...],
    value: Any,  # noqa: ANN401  # Any: wire values
    context: StepContext,
) -> tuple[Any, tuple[tuple[str, Any], ...]]:
    # Any: wire values.
    trace = []
    for step in steps:
        if value is PENDING:
            break
        if step.elementwise and isinstance(value, list):
            value = [step.run(item, context) for item in value]
        else:
            value = step.run(value, context)
        trace.append((step.name, value))
    return value, tuple(trace)


def _read(record: Mapping[str, Any], obj: str, name: str) -> Any:  # noqa: ANN401
    # Any: wire values.
    if not obj:
        return record.get(name)
    inner = record.get(obj)
    return inner.get(name) if isinstance(inner, Mapping) else None
