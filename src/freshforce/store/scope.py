"""The scope every sync-store row belongs to: one tenant's one flow."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Scope"]

_MAX = 64


@dataclass(frozen=True)
class Scope:
    """A tenant and a flow: the sync store keeps links, locks, conflicts and logs per scope.

    Every query of the sync store filters on both, so two tenants (integration pairs sharing
    one deployment) never see each other's records.
    """

    tenant: str
    flow: str

    def __post_init__(self) -> None:
        for name, value in (("tenant", self.tenant), ("flow", self.flow)):
            if not value or len(value) > _MAX:
                msg = f"a scope's {name} must be 1 to {_MAX} characters, got {value!r}"
                raise ValueError(msg)
