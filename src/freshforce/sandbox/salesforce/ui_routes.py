"""The ``/_sandbox/salesforce`` routes that act as a person or behind every client's back.

- ``POST /_sandbox/salesforce/ui/update|delete|undelete|merge``: a person's edit, delete (with
  its cascade), recycle-bin undelete or merge, reported by CDC without ``;client=``.
- ``POST /_sandbox/salesforce/silent``: change fields with no change event (timestamps kept
  unless ``touch``).
- ``POST /_sandbox/salesforce/records``: seed records with given created/updated times and owners.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from freshforce.sandbox.salesforce.control import SalesforceControl
from freshforce.sandbox.salesforce.errors import SalesforceError
from freshforce.sandbox.salesforce.quiet_writes import SeededRecord, seed_record, silent_update
from freshforce.sandbox.salesforce.ui_actions import MergeError, Origin, merge, ui_context

__all__ = ["salesforce_ui_router"]

# Admin bodies are JSON objects of any shape.
JSON = dict[str, Any]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _AsUser(_Strict):
    user: str | None = None
    origin: Origin = "lightning"


class UpdateBody(_AsUser):
    id: str
    fields: dict[str, Any] = Field(min_length=1)  # JSON field values, checked by the org


class RecordBody(_AsUser):
    id: str


class MergeBody(_AsUser):
    object: str
    master: str
    losers: list[str]
    fields: dict[str, Any] = Field(default_factory=dict)  # JSON field values for the master


class SilentBody(_Strict):
    id: str
    fields: dict[str, Any] = Field(min_length=1)  # JSON field values, checked by the org
    touch: bool = False


class SeedRecordBody(_Strict):
    fields: dict[str, Any] = Field(default_factory=dict)  # JSON field values, checked by the org
    created: datetime | None = None
    updated: datetime | None = None
    created_by: str | None = None
    owner: str | None = None


class RecordsBody(_Strict):
    object: str
    records: list[SeedRecordBody] = Field(min_length=1, max_length=10_000)
    events: bool = False


@contextmanager
def _as_http() -> Iterator[None]:
    """Answer the org's own errors with its status and body, bad requests with 422."""
    try:
        yield
    except SalesforceError as exc:
        raise HTTPException(exc.status, exc.body()) from exc
    except (MergeError, LookupError) as exc:
        raise HTTPException(422, str(exc)) from exc


def salesforce_ui_router(control: SalesforceControl) -> APIRouter:
    """Build ``/_sandbox/salesforce/{ui/*,silent,records}``."""
    router = APIRouter(prefix="/_sandbox/salesforce", tags=["sandbox admin"])
    _ui_routes(router, control)
    _quiet_routes(router, control)
    return router


def _object_of(control: SalesforceControl) -> Callable[[str], str]:
    def object_of(record_id: str) -> str:
        found = control.state.get_record(record_id, include_deleted=True)
        if found is None:
            raise LookupError(f"id: no record with id {record_id!r}")
        spec = control.state.catalog.by_prefix(str(found["Id"])[:3])
        if spec is None:  # every stored record belongs to a catalogued object
            raise LookupError(f"id: no object for {record_id!r}")
        return spec.name

    return object_of


def _ui_routes(router: APIRouter, control: SalesforceControl) -> None:
    state = control.state
    object_of = _object_of(control)

    @router.post("/ui/update")
    async def ui_update(body: UpdateBody) -> JSON:
        with _as_http():
            ctx = ui_context(control.resolve_user(body.user), body.origin)
            state.update(object_of(body.id), body.id, body.fields, ctx)
        return {"updated": body.id}

    @router.post("/ui/delete")
    async def ui_delete(body: RecordBody) -> JSON:
        with _as_http():
            ctx = ui_context(control.resolve_user(body.user), body.origin)
            state.delete(object_of(body.id), body.id, ctx)
        return {"deleted": body.id}

    @router.post("/ui/undelete")
    async def ui_undelete(body: RecordBody) -> JSON:
        with _as_http():
            ctx = ui_context(control.resolve_user(body.user), body.origin)
            with state.transaction(ctx) as tx:
                restored = tx.undelete(body.id)
        return {"undeleted": restored}

    @router.post("/ui/merge")
    async def ui_merge(body: MergeBody) -> JSON:
        with _as_http():
            ctx = ui_context(control.resolve_user(body.user), body.origin)
            result = merge(
                state,
                ctx,
                body.object,
                master_id=body.master,
                loser_ids=body.losers,
                fields=body.fields,
            )
        return {
            "master": result.master,
            "losers": list(result.losers),
            "reparented": list(result.reparented),
        }


def _quiet_routes(router: APIRouter, control: SalesforceControl) -> None:
    state = control.state
    object_of = _object_of(control)

    @router.post("/silent")
    async def silent(body: SilentBody) -> JSON:
        with _as_http():
            silent_update(state, object_of(body.id), body.id, body.fields, touch=body.touch)
        return {"updated": body.id, "touched": body.touch}

    @router.post("/records", status_code=201)
    async def records(body: RecordsBody) -> JSON:
        created: list[str] = []
        with _as_http():
            for index, item in enumerate(body.records):
                seeded = SeededRecord(
                    fields=item.fields,
                    created=item.created,
                    updated=item.updated,
                    created_by=_user_or_none(control, item.created_by),
                    owner=_user_or_none(control, item.owner),
                )
                try:
                    created.append(seed_record(state, body.object, seeded, events=body.events))
                except SalesforceError as exc:
                    raise HTTPException(
                        exc.status, {"record": index, "errors": exc.body()}
                    ) from exc
        return {"object": state.describe(body.object).name, "ids": created}


def _user_or_none(control: SalesforceControl, user: str | None) -> str | None:
    return None if user is None else control.resolve_user(user)
