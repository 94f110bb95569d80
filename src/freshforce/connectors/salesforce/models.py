"""Salesforce REST answers as pydantic models at the edge, and the plain results handed inward."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from freshforce.connectors.salesforce.errors import SalesforceFault

__all__ = [
    "CollectionItem",
    "CompositeItem",
    "CompositeResult",
    "FieldInfo",
    "PicklistEntry",
    "QueryPage",
    "SObjectInfo",
    "WriteResult",
]

# A record is a JSON object of any field the org defines.
Record = dict[str, Any]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class QueryPage(_Wire):
    """One page of ``GET query``."""

    total_size: int = Field(alias="totalSize")
    done: bool
    next_records_url: str | None = Field(default=None, alias="nextRecordsUrl")
    records: list[Record]


class _ErrorItem(_Wire):
    status_code: str = Field(default="UNKNOWN", alias="statusCode")
    message: str = ""
    fields: list[str] = Field(default_factory=list)


class CollectionItem(_Wire):
    """One element of an sObject Collections answer, in request order."""

    id: str | None = None
    success: bool
    errors: list[_ErrorItem] = Field(default_factory=list)
    created: bool | None = None


class CompositeItem(_Wire):
    """One subresponse of ``POST composite``."""

    body: Any = None  # the subrequest's own JSON answer
    http_status_code: int = Field(alias="httpStatusCode")
    reference_id: str = Field(alias="referenceId")


class PicklistEntry(_Wire):
    """One value of a picklist field."""

    value: str
    active: bool = True


class FieldInfo(_Wire):
    """The describe facts about one field that the connector uses."""

    name: str
    type: str
    createable: bool = False
    updateable: bool = False
    external_id: bool = Field(default=False, alias="externalId")
    unique: bool = False
    nillable: bool = True
    label: str = ""
    calculated: bool = False
    picklist_values: list[PicklistEntry] = Field(default_factory=list, alias="picklistValues")


class SObjectInfo(_Wire):
    """``GET sobjects/{Obj}/describe``, reduced to what the connector reads."""

    name: str
    key_prefix: str | None = Field(default=None, alias="keyPrefix")
    fields: list[FieldInfo]

    def field_names(self) -> frozenset[str]:
        return frozenset(f.name for f in self.fields)


@dataclass(frozen=True)
class WriteResult:
    """What happened to one record of a batched write."""

    id: str | None
    success: bool
    errors: tuple[SalesforceFault, ...] = ()
    created: bool | None = None

    @classmethod
    def from_item(cls, item: CollectionItem) -> WriteResult:
        errors = tuple(
            SalesforceFault(e.status_code, e.message, tuple(e.fields)) for e in item.errors
        )
        return cls(item.id, item.success, errors, item.created)


@dataclass(frozen=True)
class CompositeResult:
    """One composite subresponse: its reference, HTTP status and body."""

    reference_id: str
    status: int
    body: Any  # the subrequest's own JSON answer

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300  # noqa: PLR2004 - the 2xx range
