"""Three-way compare: each field of two snapshots against the last-synced one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from freshforce.mapping.schema import Policy
from freshforce.mapping.transforms import is_empty

__all__ = ["FieldComparison", "FieldState", "compare_snapshots", "same_value"]


class FieldState(StrEnum):
    """How a field moved since the last sync."""

    UNCHANGED = "unchanged"
    FRESHBOOKS_CHANGED = "freshbooks_changed"
    SALESFORCE_CHANGED = "salesforce_changed"
    BOTH_SAME = "both_same"  # changed on both sides, to the same value: nothing to write
    CONFLICT = "conflict"  # changed on both sides, differently: settle by the policy


@dataclass(frozen=True, slots=True)
class FieldComparison:
    """One field's three values, its state and the policy that settles a conflict."""

    field: str
    state: FieldState
    base: Any  # Any: snapshot values are wire values
    freshbooks: Any
    salesforce: Any
    policy: Policy


def same_value(left: object, right: object) -> bool:
    """Compare two wire values: empty equals empty, 1.50 equals "1.5", otherwise equality."""
    if (is_empty(left) and is_empty(right)) or left == right:
        return True
    numbers = (Decimal, int, float, str)
    comparable = (
        isinstance(left, numbers)
        and isinstance(right, numbers)
        and not isinstance(left, bool)
        and not isinstance(right, bool)
        and not (isinstance(left, str) and isinstance(right, str))
    )
    if not comparable:
        return False
    try:
        return Decimal(str(left)) == Decimal(str(right))
    except InvalidOperation:
        return False


def compare_snapshots(
    base: Mapping[str, Any] | None,
    freshbooks: Mapping[str, Any],
    salesforce: Mapping[str, Any],
    policies: Mapping[str, Policy],
) -> dict[str, FieldComparison]:
    """Compare field by field; snapshots are keyed by the same field names on both sides.

    Without a base (never synced), a difference is a conflict for the policy to settle.
    """
    result: dict[str, FieldComparison] = {}
    for name in sorted({*freshbooks, *salesforce, *(base or {})}):
        old, left, right = (base or {}).get(name), freshbooks.get(name), salesforce.get(name)
        state = _state(old, left, right, known=base is not None and name in base)
        policy = policies.get(name, Policy.NEWEST_WINS)
        result[name] = FieldComparison(name, state, old, left, right, policy)
    return result


def _state(base: object, left: object, right: object, *, known: bool) -> FieldState:
    if same_value(left, right):
        if not known or same_value(base, left):
            return FieldState.UNCHANGED
        return FieldState.BOTH_SAME
    if not known:
        return FieldState.CONFLICT
    left_moved, right_moved = not same_value(base, left), not same_value(base, right)
    if left_moved and right_moved:
        return FieldState.CONFLICT
    return FieldState.FRESHBOOKS_CHANGED if left_moved else FieldState.SALESFORCE_CHANGED
