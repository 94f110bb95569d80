"""The pydantic v2 schema of a flow file and of ``values.yaml``; what each key may hold."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from freshforce.mapping.anomalies_schema import AnomaliesModel
from freshforce.mapping.mirror_schema import MirrorModel

__all__ = [
    "DeletePolicy",
    "DeletesModel",
    "Direction",
    "FieldRuleModel",
    "FlowModel",
    "HooksModel",
    "LineRulesModel",
    "LinkModel",
    "MatchStrategy",
    "Policy",
    "ValuesModel",
]


class Direction(StrEnum):
    """Which way a rule writes."""

    BOTH = "both"
    TO_SALESFORCE = "to_salesforce"
    TO_FRESHBOOKS = "to_freshbooks"


class Policy(StrEnum):
    """Who wins when a field changed on both sides since the last sync."""

    SALESFORCE_WINS = "salesforce_wins"
    FRESHBOOKS_WINS = "freshbooks_wins"
    NEWEST_WINS = "newest_wins"
    REVIEW = "review"


class DeletePolicy(StrEnum):
    """What a deletion on one side does to the linked record on the other."""

    PROPAGATE = "propagate"
    ARCHIVE = "archive"
    UNLINK = "unlink"
    IGNORE = "ignore"


class MatchStrategy(StrEnum):
    """How an unlinked record finds its partner before anything is created."""

    STORED_LINK = "stored_link"
    EXTERNAL_ID = "external_id"
    EMAIL = "email"
    ORGANIZATION_NORMALISED = "organization_normalised"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# Any: transform steps and defaults are validated per transform after named values resolve.
TransformSpec = str | dict[str, Any]
Fields = str | list[str]


class FieldRuleModel(_Strict):
    """One field rule: its field(s) on each side and how values travel between them."""

    name: str | None = None
    freshbooks: Fields | None = None
    salesforce: Fields | None = None
    direction: Direction = Direction.BOTH
    policy: Policy = Policy.NEWEST_WINS
    transform: list[TransformSpec] = Field(default_factory=list)
    inverse: list[TransformSpec] | None = None
    expression: str | None = None
    inverse_expression: str | None = None
    default: Any = None  # Any: a literal, a "{field}" template or a $named value
    required: bool = False
    when: str | None = None


class LinkModel(_Strict):
    """The objects a flow links: one FreshBooks object, one or more Salesforce objects."""

    freshbooks: str
    salesforce: Fields


class CustomMatch(_Strict):
    """A match step done by a hook ``module:function``."""

    custom: str


class DeletesModel(_Strict):
    """What to do on the other side when a record is deleted on this one."""

    freshbooks: DeletePolicy = DeletePolicy.UNLINK
    salesforce: DeletePolicy = DeletePolicy.UNLINK


class HooksModel(_Strict):
    """Business logic run on each planned change, in order."""

    before_write: str | list[str] = Field(default_factory=list)


class LineRulesModel(_Strict):
    """Rules applied to each child line (invoice lines ↔ OpportunityLineItem)."""

    freshbooks: str
    salesforce: str
    fields: list[FieldRuleModel] = Field(default_factory=list)


class FlowModel(_Strict):
    """One flow file (``clients.yaml``, ``invoices.yaml``, ``payments.yaml``)."""

    flow: Literal["clients", "invoices", "payments", "mirror"]
    link: LinkModel
    match: list[MatchStrategy | CustomMatch] = Field(default_factory=list)
    deletes: DeletesModel = Field(default_factory=DeletesModel)
    fields: list[FieldRuleModel] = Field(default_factory=list)
    lines: LineRulesModel | None = None
    hooks: HooksModel = Field(default_factory=HooksModel)
    mirror: MirrorModel | None = None  # flow: mirror only (mirror_<name>.yaml)
    anomalies: AnomaliesModel = Field(default_factory=AnomaliesModel)  # the write guard's


class ValuesModel(_Strict):
    """``values.yaml``: named values, and per profile (any name) the ones that differ."""

    values: dict[str, Any] = Field(default_factory=dict)  # Any: scalars, lists or tables
    profiles: dict[
        Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,15}$")], dict[str, Any]
    ] = Field(default_factory=dict)
