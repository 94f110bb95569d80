"""The ``mirror:`` section of a mirror flow file: keys, parent lookups, guards, lines.

A mirror flow copies one FreshBooks resource one way into one Salesforce object (standard or
custom), upserted by an external-id field; see docs/mapping.md, "Mirror flows".
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MirrorGuardModel", "MirrorLinesModel", "MirrorLookupModel", "MirrorModel"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MirrorLookupModel(_Strict):
    """A lookup field of the target set from a FreshBooks id: by a stored link, by a query."""

    field: str  # the target's lookup field (``Account__c``, ``AccountId``)
    source: str = Field(alias="from")  # the FreshBooks field holding the id (``customerid``)
    link: Literal["clients"] | None = None  # the clients flow's stored links
    object: str | None = None  # else (or when unlinked): the object queried ...
    by: str | None = None  # ... on this field holding the FreshBooks id
    required: bool = False  # no parent found: wait for it (the job is retried)


class MirrorGuardModel(_Strict):
    """Records the mirror must not edit (an activated Order): the change is flagged for review."""

    field: str
    values: list[str]


class MirrorLinesModel(_Strict):
    """How the mirrored children hang off their parent."""

    parent: str  # the child's lookup to the parent (``Invoice__c``, ``OrderId``)
    external_id: str  # the child's external-id field, set to ``<record id>-<line id>``
    create_only: list[str] = Field(default_factory=list)  # fields not sent to existing children


class MirrorModel(_Strict):
    """The ``mirror:`` section."""

    external_id: str  # the target's external-id field, set to the FreshBooks id
    lookups: list[MirrorLookupModel] = Field(default_factory=list)
    create_only: list[str] = Field(default_factory=list)  # fields sent only when creating
    guard: MirrorGuardModel | None = None
    lines: MirrorLinesModel | None = None
