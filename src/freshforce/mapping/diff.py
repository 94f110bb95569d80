"""Compare two snapshots of a mapping directory per flow, per rule and per named value.

A flow file missing from a snapshot counts as the shipped default, as it does when loading. A
rule is known by its fields (``organization -> Account.Name``), so moving a rule is no change
and editing one names the keys that changed, old value → new.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from freshforce.mapping.loader import FLOWS, VALUES, shipped_text
from freshforce.mapping.yamlnodes import read_yaml

__all__ = ["Change", "diff_snapshots"]


@dataclass(frozen=True)
class Change:
    """One difference: where (flow or ``values``/file, then rule or key) and what."""

    area: str
    item: str
    kind: str  # added, removed or changed
    detail: str

    def __str__(self) -> str:
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.area}: {self.kind} {self.item}{detail}"


def diff_snapshots(old: Mapping[str, str], new: Mapping[str, str]) -> list[Change]:
    """Return what changes from ``old`` to ``new``, flows first, then values, then hooks."""
    changes: list[Change] = []
    for flow in FLOWS:
        changes += _diff_flow(flow, _data(old, flow), _data(new, flow))
    changes += _diff_values(_data(old, VALUES), _data(new, VALUES))
    for name in sorted({n for n in (*old, *new) if n.endswith(".py")}):
        changes += _diff_text(name, old.get(name), new.get(name))
    return changes


def _data(files: Mapping[str, str], stem: str) -> dict[str, Any]:
    # Any: YAML read as data; a snapshot passed validation when it was applied.
    text = files.get(f"{stem}.yaml", files.get(f"{stem}.yml"))
    if text is None:
        text = shipped_text(f"{stem}.yaml")
    data = read_yaml(f"{stem}.yaml", text).data
    return data if isinstance(data, dict) else {}


def _rule_key(rule: object) -> str:
    if not isinstance(rule, dict):
        return _show(rule)
    sides = [rule.get("freshbooks"), rule.get("salesforce")]
    return " -> ".join(", ".join(s) if isinstance(s, list) else str(s or "-") for s in sides)


def _rules(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    # Any: one rule's keys.
    rules: dict[str, dict[str, Any]] = {}
    for rule in data.get("fields") or []:
        key = base = _rule_key(rule)
        count = 2
        while key in rules:
            key, count = f"{base} #{count}", count + 1
        rules[key] = rule if isinstance(rule, dict) else {"rule": rule}
    return rules


def _diff_flow(flow: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    changes = [
        Change(flow, key, "changed", f"{_show(old.get(key))} -> {_show(new.get(key))}")
        for key in sorted({*old, *new} - {"fields"})
        if old.get(key) != new.get(key)
    ]
    old_rules, new_rules = _rules(old), _rules(new)
    for key, rule in new_rules.items():
        if key not in old_rules:
            changes.append(Change(flow, f"rule {key}", "added", _show(rule)))
        elif rule != old_rules[key]:
            changes.append(Change(flow, f"rule {key}", "changed", _keys(old_rules[key], rule)))
    changes += [
        Change(flow, f"rule {key}", "removed", "") for key in old_rules if key not in new_rules
    ]
    return changes


def _diff_values(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    changes = _diff_table("values", "", old.get("values") or {}, new.get("values") or {})
    old_profiles, new_profiles = old.get("profiles") or {}, new.get("profiles") or {}
    for profile in sorted({*old_profiles, *new_profiles}):
        changes += _diff_table(
            "values",
            f"profile {profile} ",
            old_profiles.get(profile) or {},
            new_profiles.get(profile) or {},
        )
    return changes


def _diff_table(
    area: str, prefix: str, old: Mapping[str, Any], new: Mapping[str, Any]
) -> list[Change]:
    changes = []
    for name in sorted({*old, *new}):
        if name not in old:
            changes.append(Change(area, f"{prefix}{name}", "added", _show(new[name])))
        elif name not in new:
            changes.append(Change(area, f"{prefix}{name}", "removed", _show(old[name])))
        elif old[name] != new[name]:
            detail = f"{_show(old[name])} -> {_show(new[name])}"
            changes.append(Change(area, f"{prefix}{name}", "changed", detail))
    return changes


def _diff_text(name: str, old: str | None, new: str | None) -> list[Change]:
    if old == new:
        return []
    if old is None or new is None:
        return [Change(name, "file", "added" if old is None else "removed", "")]
    lines = list(difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0))
    plus = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
    minus = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    return [Change(name, "file", "changed", f"+{plus} -{minus} lines")]


def _keys(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    return "; ".join(
        f"{key}: {_show(old.get(key))} -> {_show(new.get(key))}"
        for key in sorted({*old, *new})
        if old.get(key) != new.get(key)
    )


def _show(value: object) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
