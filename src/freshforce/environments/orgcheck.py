"""Check compiled maps against an environment's Salesforce org, through its describe.

For every rule naming a Salesforce field: the field exists on the object (else the closest
name), it is not a formula or compound field when the rule writes it, it is createable and
updateable as the flow needs (the clients flow creates Accounts and Contacts; every writing
rule updates), and each named value the rule uses (``$name``: a scalar, a list, or a table's
values) is an active picklist value when the field is a picklist. Each problem names the map
file and the rule's line. Each object is described once per run (the client caches it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from freshforce.errors import ConfigError, FreshforceError
from freshforce.mapping import Direction, Problem
from freshforce.mapping.loader import shipped_text
from freshforce.mapping.problems import did_you_mean
from freshforce.mapping.yamlnodes import read_yaml

if TYPE_CHECKING:
    from freshforce.connectors.salesforce import SalesforceClient
    from freshforce.connectors.salesforce.models import FieldInfo, SObjectInfo
    from freshforce.engine.pair import Pair
    from freshforce.mapping import FieldRule, FlowMap, MapSet
    from freshforce.runtime import Runtime
    from freshforce.settings import Settings

__all__ = ["check_environment", "check_org", "environment_pair"]

_NAMED = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_NOT_WRITABLE = frozenset({"id", "address", "location"})
_CREATES = {"clients": True}  # flows that create Salesforce records; the others update only


async def check_org(maps: MapSet, salesforce: SalesforceClient, *, env: str) -> list[Problem]:
    """Return every problem of ``maps`` against the org ``salesforce`` reaches (named ``env``)."""
    described: dict[str, SObjectInfo | None] = {}
    problems: list[Problem] = []
    for flow in maps.flows.values():
        raw = _raw_rules(maps.sources.get(flow.flow, ""), flow.flow)
        for rule in flow.rules:
            for obj, name in _refs(rule):
                if obj not in described:
                    described[obj] = await _describe(salesforce, obj)
                info = described[obj]
                where = (flow.file, rule.line)
                if info is None:
                    problems.append(_problem(where, f"object {obj} does not exist in {env}"))
                    continue
                problems += _field_problems(
                    flow, rule, info, name, raw=raw, values=maps.values, env=env
                )
    return sorted(set(problems), key=lambda p: (p.file, p.line, p.message))


async def check_environment(
    maps: MapSet, salesforce: SalesforceClient, settings: Settings
) -> list[Problem]:
    """Return the maps' problems in ``settings``' org, then the platform events it lacks."""
    from freshforce.service.event_check import missing_platform_events  # noqa: PLC0415 - cycle

    found = await check_org(maps, salesforce, env=settings.profile)
    events = await missing_platform_events(
        salesforce,
        channels=settings.platform_event_channels,
        publish=settings.platform_event_publish,
    )
    where = "settings (platform_event_channels, platform_event_publish)"
    return found + [Problem(where, 0, 0, "", message) for message in events]


async def environment_pair(runtime: Runtime, tenant: str) -> Pair:
    """Return ``tenant``'s connections in ``runtime``'s environment; ConfigError naming it."""
    try:
        return await runtime.pair(tenant)
    except ConfigError as exc:
        profile = runtime.settings.profile
        msg = f"environment {profile}: {exc.message} (with --profile {profile})"
        raise ConfigError(msg) from None


async def _describe(salesforce: SalesforceClient, obj: str) -> SObjectInfo | None:
    try:
        return await salesforce.describe(obj)
    except FreshforceError as exc:
        if exc.http_status == 404:  # noqa: PLR2004 - no such object in this org
            return None
        raise


def _refs(rule: FieldRule) -> Iterator[tuple[str, str]]:
    for ref in rule.salesforce:
        obj, _, name = ref.partition(".")
        if name:
            yield obj, name


def _field_problems(
    flow: FlowMap,
    rule: FieldRule,
    info: SObjectInfo,
    name: str,
    *,
    raw: list[Any],
    values: Mapping[str, Any],
    env: str,
) -> list[Problem]:
    where = (flow.file, rule.line)
    fields = {f.name: f for f in info.fields}
    found = fields.get(name)
    if found is None:
        hint = did_you_mean(name, fields)
        return [
            _problem(where, f"Salesforce field {info.name}.{name} does not exist in {env}{hint}")
        ]
    problems = []
    if rule.direction in {Direction.BOTH, Direction.TO_SALESFORCE}:
        problems += _write_problems(flow, found, f"{info.name}.{name}", where, env)
    if found.type in {"picklist", "multipicklist"}:
        rule_data = raw[rule.index] if rule.index < len(raw) else {}
        problems += _picklist_problems(
            found, f"{info.name}.{name}", rule_data=rule_data, values=values, where=where, env=env
        )
    return problems


def _write_problems(
    flow: FlowMap, field: FieldInfo, ref: str, where: tuple[str, int], env: str
) -> list[Problem]:
    if field.calculated or field.type in _NOT_WRITABLE:
        kind = "a formula" if field.calculated else f"of type {field.type}"
        return [_problem(where, f"Salesforce field {ref} is {kind} in {env}: it cannot be written")]
    problems = []
    if not field.updateable:
        problems.append(_problem(where, f"Salesforce field {ref} is not updateable in {env}"))
    if _CREATES.get(flow.flow) and not field.createable:
        problems.append(_problem(where, f"Salesforce field {ref} is not createable in {env}"))
    return problems


def _picklist_problems(
    field: FieldInfo,
    ref: str,
    *,
    rule_data: object,
    values: Mapping[str, Any],
    where: tuple[str, int],
    env: str,
) -> list[Problem]:
    allowed = [entry.value for entry in field.picklist_values if entry.active]
    problems = []
    for named in sorted(set(_NAMED.findall(json.dumps(rule_data, default=str)))):
        for value in _scalars(values.get(named)):
            if value in allowed:
                continue
            hint = did_you_mean(value, allowed)
            message = (
                f"named value ${named} gives {value!r}, not a picklist value of {ref} in {env}"
                f"{hint}; its values: {', '.join(allowed) or '(none)'}"
            )
            problems.append(_problem(where, message))
    return problems


def _scalars(value: object) -> list[str]:
    if isinstance(value, Mapping):
        return [str(v) for v in value.values() if v is not None]
    if isinstance(value, list | tuple):
        return [str(v) for v in value if v is not None]
    return [] if value is None or isinstance(value, bool) else [str(value)]


def _raw_rules(source: str, flow: str) -> list[Any]:
    # Any: the rules as YAML data, to find the named values each one uses.
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8") if path.is_file() else shipped_text(f"{flow}.yaml")
    except OSError:
        return []
    data = read_yaml(source, text).data
    rules = data.get("fields") if isinstance(data, dict) else None
    return rules if isinstance(rules, list) else []


def _problem(where: tuple[str, int], message: str) -> Problem:
    return Problem(where[0], where[1], 0, "", message)
