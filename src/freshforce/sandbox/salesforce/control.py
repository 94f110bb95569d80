"""The Salesforce side of the ``/_sandbox`` control plane: state hooks and org-specific admin.

``SalesforceControl`` implements ``sandbox.core.SandboxControl`` (reset, seed, snapshot, mint a
token). ``salesforce_admin_router`` adds what only this org has, under ``/_sandbox/salesforce``:
adding custom ``__c`` fields, validation rules and platform events (``X__e``), turning
multi-currency on, undeleting from the recycle bin (REST has no undelete), forcing sessions to
expire, and setting or exhausting the daily API allocation.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from freshforce.sandbox.salesforce import currency
from freshforce.sandbox.salesforce.avro import CdcField
from freshforce.sandbox.salesforce.errors import SalesforceError
from freshforce.sandbox.salesforce.limits import ApiAllocation
from freshforce.sandbox.salesforce.objects import FieldSpec, FieldType
from freshforce.sandbox.salesforce.platform_events import EventDefinition
from freshforce.sandbox.salesforce.routes_query import QueryCursors
from freshforce.sandbox.salesforce.seed import seed_org
from freshforce.sandbox.salesforce.sessions import Sessions
from freshforce.sandbox.salesforce.state import SalesforceState, WriteContext
from freshforce.sandbox.salesforce.users import SalesforceUsers
from freshforce.sandbox.salesforce.validation import FormulaError

__all__ = ["SalesforceControl", "salesforce_admin_router"]

# Admin bodies are JSON objects of any shape.
JSON = dict[str, Any]


class SalesforceControl:
    """The state hooks the shared admin API calls."""

    def __init__(self, state: SalesforceState, sessions: Sessions, cursors: QueryCursors) -> None:
        self.state = state
        self.sessions = sessions
        self.cursors = cursors
        self.users = SalesforceUsers(state, sessions)

    def reset(self) -> None:
        self.state.reset()
        self.sessions.reset()
        self.cursors.clear()

    def seed(self, records: int, seed: int) -> dict[str, int]:
        return seed_org(self.state, records, seed)

    def snapshot(self) -> JSON:
        return {
            "organization_id": self.state.org_id,
            "api_usage": self.state.allocation.header(),
            "records": {
                spec.name: list(self.state.records(spec.name, include_deleted=True))
                for spec in self.state.catalog
            },
        }

    def mint_token(self, user: str | None, expires_in: int | None) -> JSON:
        return self.users.mint_for(user, None, expires_in)

    def resolve_user(self, user: str | None) -> str:
        """Return the id of a user given by id, username, e-mail or name; the admin for None."""
        if user is None:
            return self.state.admin_user_id
        return self.users.find_user(user).id


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CustomFieldBody(_Strict):
    """A custom field as an admin defines it in Setup."""

    object: str
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*__c$")
    type: FieldType = "string"
    label: str = ""
    length: int = Field(default=255, ge=0, le=131072)
    precision: int = Field(default=18, ge=0, le=18)
    scale: int = Field(default=2, ge=0, le=17)
    external_id: bool = False
    unique: bool = False
    required: bool = False
    picklist_values: list[str] = Field(default_factory=list)
    restricted_picklist: bool = False
    reference_to: list[str] = Field(default_factory=list)


class ValidationRuleBody(_Strict):
    """A validation rule as an admin defines it in Setup (``validation.py`` has the formula)."""

    object: str
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
    condition: str = Field(min_length=1, max_length=5000)
    message: str = Field(min_length=1, max_length=255)
    field: str | None = None
    active: bool = True


class EventFieldBody(_Strict):
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*__c$")
    type: Literal["string", "boolean", "int", "double", "datetime", "date"] = "string"


class PlatformEventBody(_Strict):
    """A platform event as an admin defines it in Setup: ``X__e`` and its custom fields."""

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*__e$")
    label: str = ""
    fields: list[EventFieldBody] = Field(default_factory=list)


def _event_json(definition: EventDefinition) -> JSON:
    return {
        "name": definition.name,
        "label": definition.label,
        "topic": f"/event/{definition.name}",
        "fields": [{"name": f.name, "type": f.kind} for f in definition.fields],
    }


class UndeleteBody(_Strict):
    id: str


class ExpireBody(_Strict):
    access_token: str | None = None


class LimitsBody(_Strict):
    max_calls: int | None = Field(default=None, ge=0)
    used: int | None = Field(default=None, ge=0)
    exhaust: bool = False
    reset: bool = False


def salesforce_admin_router(control: SalesforceControl) -> APIRouter:
    """Build the ``/_sandbox/salesforce/…`` routes (fields, validation rules, currency, …)."""
    router = APIRouter(prefix="/_sandbox/salesforce", tags=["sandbox admin"])
    state = control.state

    @router.post("/fields", status_code=201)
    async def add_field(body: CustomFieldBody) -> JSON:
        if state.catalog.get(body.object) is None:
            raise HTTPException(404, f"object: no sObject called {body.object!r}")
        numeric = body.type in {"currency", "double", "percent", "int"}
        spec = FieldSpec(
            name=body.name,
            type=body.type,
            label=body.label,
            length=body.length if not numeric else 0,
            precision=body.precision if numeric else 0,
            scale=body.scale if numeric else 0,
            nillable=not body.required,
            unique=body.unique,
            external_id=body.external_id,
            picklist_values=tuple(body.picklist_values),
            restricted_picklist=body.restricted_picklist,
            reference_to=tuple(body.reference_to),
        )
        try:
            added = state.add_custom_field(body.object, spec)
        except ValueError as exc:
            raise HTTPException(422, f"name: {exc}") from exc
        return {"object": state.describe(body.object).name, "field": added.name}

    _validation_routes(router, state)
    _event_routes(router, state)

    @router.post("/multi-currency")
    async def multi_currency() -> JSON:
        if not currency.is_multi_currency(state.catalog):
            currency.enable_multi_currency(state.catalog)
            with state.transaction(WriteContext(user_id=state.admin_user_id), emit=False) as tx:
                currency.set_up(tx)
                currency.backfill(tx)
        rows = state.records("CurrencyType")
        return {
            "multi_currency": True,
            "currencies": [
                {k: r[k] for k in ("IsoCode", "ConversionRate", "IsCorporate", "IsActive")}
                for r in rows
            ],
        }

    @router.post("/undelete")
    async def undelete(body: UndeleteBody) -> JSON:
        with state.transaction(WriteContext(user_id=state.admin_user_id, api="apex")) as tx:
            try:
                restored = tx.undelete(body.id)
            except SalesforceError as exc:
                raise HTTPException(exc.status, exc.body()) from exc
        return {"undeleted": restored}

    @router.post("/sessions/expire")
    async def expire(body: ExpireBody) -> JSON:
        return {"expired": control.sessions.expire(body.access_token)}

    @router.put("/limits")
    async def limits(body: LimitsBody) -> JSON:
        return _apply_limits(state.allocation, body)

    return router


def _event_routes(router: APIRouter, state: SalesforceState) -> None:
    @router.get("/platform-events")
    async def list_events() -> list[JSON]:
        return [_event_json(d) for d in state.platform_events.definitions()]

    @router.post("/platform-events", status_code=201)
    async def define_event(body: PlatformEventBody) -> JSON:
        names = [f.name.lower() for f in body.fields]
        if len(set(names)) != len(names):
            raise HTTPException(422, f"fields: a field name appears twice in {body.name}")
        fields = tuple(CdcField(f.name, f.type) for f in body.fields)
        try:
            added = state.platform_events.define(EventDefinition(body.name, fields, body.label))
        except ValueError as exc:
            raise HTTPException(422, f"name: {exc}") from exc
        return _event_json(added)


def _validation_routes(router: APIRouter, state: SalesforceState) -> None:
    rules = state.validation_rules

    @router.get("/validation-rules")
    async def list_rules() -> list[JSON]:
        return [rule.describe() for rule in rules.all()]

    @router.post("/validation-rules", status_code=201)
    async def add_rule(body: ValidationRuleBody) -> JSON:
        spec = state.catalog.get(body.object)
        if spec is None:
            raise HTTPException(404, f"object: no sObject called {body.object!r}")
        try:
            rule = rules.add(
                spec, body.name, body.condition, body.message, body.field, active=body.active
            )
        except FormulaError as exc:
            raise HTTPException(422, str(exc)) from exc
        return rule.describe()

    @router.delete("/validation-rules/{object_name}/{name}", status_code=204)
    async def remove_rule(object_name: str, name: str) -> None:
        if not rules.remove(object_name, name):
            raise HTTPException(404, f"no validation rule {name!r} on {object_name!r}")


def _apply_limits(allocation: ApiAllocation, body: LimitsBody) -> JSON:
    if body.reset or body.max_calls is not None:
        allocation.reset(body.max_calls)
    if body.exhaust:
        allocation.exhaust()
    if body.used is not None:
        allocation.set_used(body.used)
    return {
        "max_calls": allocation.max_calls,
        "used": allocation.used(),
        "header": allocation.header(),
    }
