"""FreshBooks identity and accounting routes: ``/auth/api/v1/users/me`` and ``/accounting/...``.

One list/create route and one get/update/delete route per resource in ``resources.RESOURCES``,
so the generated endpoint table in docs/sandbox.md names every path.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from freshforce.sandbox.freshbooks.auth import (
    Caller,
    authenticate,
    require_account,
    require_scope,
)
from freshforce.sandbox.freshbooks.errors import ERRNO, accounting_error
from freshforce.sandbox.freshbooks.resources import RESOURCES, Resource
from freshforce.sandbox.freshbooks.search import QueryError, parse_query, select
from freshforce.sandbox.freshbooks.state import FreshBooksState, Identity
from freshforce.sandbox.freshbooks.users import author_of
from freshforce.sandbox.freshbooks.wire import list_envelope, read_body, render, single_envelope

__all__ = ["accounting_router", "identity_router"]

JSON = dict[str, Any]  # response bodies are JSON objects in FreshBooks' shapes


def identity_router(state: FreshBooksState) -> APIRouter:
    """Build the identity route the SDK's ``current_user()`` calls."""
    router = APIRouter(tags=["identity"])

    @router.get("/auth/api/v1/users/me")
    async def users_me(request: Request) -> JSONResponse:
        caller = authenticate(state, request)
        require_scope(caller, "user:profile:read")
        return JSONResponse({"response": _me(caller.identity)})

    return router


def accounting_router(state: FreshBooksState) -> APIRouter:
    """Build list/create/get/update/delete routes for every accounting resource."""
    router = APIRouter(tags=["accounting"])
    for resource in RESOURCES:
        _resource_routes(router, state, resource)
    return router


def _resource_routes(router: APIRouter, state: FreshBooksState, resource: Resource) -> None:
    base = f"/accounting/account/{{account_id}}/{resource.path}"
    read, write = f"user:{resource.scope}:read", f"user:{resource.scope}:write"
    books = state.accounting

    async def list_records(account_id: str, request: Request) -> JSONResponse:
        _check(state, request, account_id, read)
        try:
            query = parse_query(request.query_params.multi_items(), resource)
        except QueryError as exc:
            raise accounting_error(
                400, ERRNO[exc.kind], str(exc), obj=resource.singular, field=exc.param
            ) from exc
        page = select(books.all(account_id, resource.plural), query)
        rows = [_view(state, resource, r, query.includes, single=False) for r in page.records]
        return JSONResponse(list_envelope(resource, page, rows))

    async def create_record(account_id: str, request: Request) -> JSONResponse:
        caller = _check(state, request, account_id, write)
        body = read_body(await request.body(), resource.singular)
        with books.acting_as(author_of(caller.identity)):
            record = books.create(account_id, resource.plural, body)
        return JSONResponse(_single(state, resource, record, request))

    async def get_record(account_id: str, record_id: int, request: Request) -> JSONResponse:
        _check(state, request, account_id, read)
        return JSONResponse(
            _single(state, resource, books.get(account_id, resource.plural, record_id), request)
        )

    async def update_record(account_id: str, record_id: int, request: Request) -> JSONResponse:
        caller = _check(state, request, account_id, write)
        body = read_body(await request.body(), resource.singular)
        with books.acting_as(author_of(caller.identity)):
            record = books.update(account_id, resource.plural, record_id, body)
        return JSONResponse(_single(state, resource, record, request))

    async def delete_record(account_id: str, record_id: int, request: Request) -> JSONResponse:
        caller = _check(state, request, account_id, write)
        with books.acting_as(author_of(caller.identity)):
            record = books.delete(account_id, resource.plural, record_id)
        return JSONResponse(_single(state, resource, record, request))

    name = resource.plural
    router.add_api_route(base, list_records, methods=["GET"], name=f"list {name}")
    router.add_api_route(base, create_record, methods=["POST"], name=f"create {name}")
    one = f"{base}/{{record_id}}"
    router.add_api_route(one, get_record, methods=["GET"], name=f"get {name}")
    router.add_api_route(one, update_record, methods=["PUT"], name=f"update {name}")
    if resource.http_delete:
        router.add_api_route(one, delete_record, methods=["DELETE"], name=f"delete {name}")


def _check(state: FreshBooksState, request: Request, account_id: str, scope: str) -> Caller:
    caller = authenticate(state, request)
    require_account(caller, account_id, request.scope["path"])
    require_scope(caller, scope)
    return caller


def _single(state: FreshBooksState, resource: Resource, record: JSON, request: Request) -> JSON:
    includes = frozenset(request.query_params.getlist("include[]"))
    return single_envelope(resource.singular, _view(state, resource, record, includes, single=True))


def _view(
    state: FreshBooksState,
    resource: Resource,
    record: JSON,
    includes: frozenset[str],
    *,
    single: bool,
) -> JSON:
    shown = render(resource, record, includes, single=single)
    if resource.plural == "clients" and "outstanding_balance" in includes:
        account = record["accounting_systemid"]
        shown["outstanding_balance"] = state.accounting.client_outstanding(account, record["id"])
    return shown


def _me(identity: Identity) -> JSON:
    business = {
        "id": identity.business_id,
        "business_uuid": identity.business_uuid,
        "name": identity.business_name,
        "account_id": identity.account_id,
        "date_format": "mm/dd/yyyy",
        "active": True,
        "address": {"id": 1, "street": "", "city": "", "province": "", "country": "US"},
        "phone_number": None,
        "business_clients": [],
    }
    return {
        "id": identity.id,
        "identity_id": identity.id,
        "identity_uuid": f"00000000-0000-4000-8000-{identity.id:012d}",
        "first_name": identity.first_name,
        "last_name": identity.last_name,
        "email": identity.email,
        "language": "en",
        "confirmed_at": "2024-01-02T15:04:05Z",
        "created_at": "2024-01-02T15:04:05Z",
        "setup_complete": True,
        "phone_numbers": [],
        "addresses": [],
        "profile": {"setup_complete": True, "first_name": identity.first_name},
        "business_memberships": [
            {
                "id": identity.business_id + identity.userid,
                "role": identity.role,
                "unacknowledged_change": False,
                "business": business,
            }
        ],
        "roles": [
            {
                "id": identity.id + 1,
                "role": "admin" if identity.role == "owner" else identity.role,
                "systemid": 1,
                "userid": identity.userid,
                "created_at": "2024-01-02T15:04:05Z",
                "links": {},
                "accountid": identity.account_id,
            }
        ],
        "groups": [
            {
                "id": 1,
                "group_id": 1,
                "role": identity.role,
                "identity_id": identity.id,
                "identity_uuid": f"00000000-0000-4000-8000-{identity.id:012d}",
                "business_id": identity.business_id,
                "active": True,
            }
        ],
        "permissions": {identity.account_id: {}},
        "subscription_statuses": {identity.account_id: "active"},
        "links": {},
    }
