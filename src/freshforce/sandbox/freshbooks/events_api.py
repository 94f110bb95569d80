"""FreshBooks callback routes under ``/events/account/{account_id}/events/callbacks``."""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from freshforce.sandbox.freshbooks.auth import authenticate, require_account
from freshforce.sandbox.freshbooks.errors import EVENTS_422, events_error
from freshforce.sandbox.freshbooks.search import DEFAULT_PER_PAGE, MAX_PER_PAGE
from freshforce.sandbox.freshbooks.state import FreshBooksState
from freshforce.sandbox.freshbooks.webhooks import WebhookPublisher

__all__ = ["events_router"]

JSON = dict[str, Any]  # response bodies in the events family's shape
BASE = "/events/account/{account_id}/events/callbacks"


def events_router(state: FreshBooksState, publisher: WebhookPublisher) -> APIRouter:
    """Build callback create/list/get/update(verify, resend)/delete."""
    router = APIRouter(tags=["webhooks"])
    callbacks = state.callbacks

    @router.get(BASE)
    async def list_callbacks(account_id: str, request: Request) -> JSONResponse:
        _check(state, request, account_id)
        params = request.query_params
        page = max(_int(params.get("page", "1"), "page"), 1)
        per_page = min(
            max(_int(params.get("per_page", str(DEFAULT_PER_PAGE)), "per_page"), 1), MAX_PER_PAGE
        )
        found = [_public(r) for r in callbacks.of_account(account_id, params.get("search[event]"))]
        start = (page - 1) * per_page
        result = {
            "callbacks": found[start : start + per_page],
            "page": page,
            "pages": math.ceil(len(found) / per_page),
            "per_page": per_page,
            "total": len(found),
        }
        return JSONResponse({"response": {"result": result}})

    @router.post(BASE)
    async def create_callback(account_id: str, request: Request) -> JSONResponse:
        caller = _check(state, request, account_id)
        record = callbacks.create(account_id, caller, _body(await request.body()))
        publisher.send_verification(record)
        return JSONResponse(_envelope(record))

    @router.get(BASE + "/{callback_id}")
    async def get_callback(account_id: str, callback_id: int, request: Request) -> JSONResponse:
        _check(state, request, account_id)
        return JSONResponse(_envelope(callbacks.get(account_id, callback_id)))

    @router.put(BASE + "/{callback_id}")
    async def update_callback(account_id: str, callback_id: int, request: Request) -> JSONResponse:
        _check(state, request, account_id)
        record, resend = callbacks.update(account_id, callback_id, _body(await request.body()))
        if resend:
            publisher.send_verification(record)
        return JSONResponse(_envelope(record))

    @router.delete(BASE + "/{callback_id}", status_code=204)
    async def delete_callback(account_id: str, callback_id: int, request: Request) -> Response:
        _check(state, request, account_id)
        callbacks.delete(account_id, callback_id)
        return Response(status_code=204)

    return router


def _check(state: FreshBooksState, request: Request, account_id: str) -> int:
    caller = authenticate(state, request)
    require_account(caller, account_id, request.scope["path"])
    return caller.identity.id


def _body(raw: bytes) -> JSON:
    try:
        parsed = json.loads(raw or b"null")
    except ValueError:
        raise events_error(400, 422, EVENTS_422, ["body: Invalid JSON."]) from None
    inner = parsed.get("callback") if isinstance(parsed, dict) else None
    if not isinstance(inner, dict):
        raise events_error(400, 422, EVENTS_422, ["callback: Field required."])
    return inner


def _int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise events_error(400, 422, EVENTS_422, [f"{name}: Input should be an integer."]) from None


def _public(record: JSON) -> JSON:
    return {k: v for k, v in record.items() if not k.startswith("_")}


def _envelope(record: JSON) -> JSON:
    return {"response": {"result": {"callback": _public(record)}}}
