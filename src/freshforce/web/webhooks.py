"""``POST /webhooks/freshbooks/{connection}``: FreshBooks callbacks, signature-checked, no login.

A ``callback.verify`` post carries the verifier of a new callback: the route confirms it with
FreshBooks (``PUT …/events/callbacks/{id}``) and, only once FreshBooks accepted it, keeps it
encrypted in the store (store/callbacks.py) as the HMAC secret of that callback. Every other post
must be signed (``X-FreshBooks-Hmac-SHA256``, compared in constant time) by one of the
connection's stored verifiers and name the connection's account; it is then stored as an event
plus a reconcile job by :func:`~freshforce.intake.webhooks.receive_freshbooks`, committed before
the 200, under the tenant of the connection (each integration pair's callbacks name their own
connection in the URL). Anything else is refused (400 malformed, 401 unsigned or forged, 403
another account, 404 unknown connection, 413 too large) with nothing stored or enqueued.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr

from freshforce.connectors.freshbooks.signature import SIGNATURE_HEADER, verify_signature
from freshforce.errors import ConfigError, FreshforceError
from freshforce.intake.webhooks import (
    WebhookOutcome,
    delivery_problem,
    parse_delivery,
    receive_freshbooks,
)
from freshforce.store.callbacks import load_verifiers, save_verifier
from freshforce.store.connections import load_connection
from freshforce.web.deps import web_deps

if TYPE_CHECKING:
    from collections.abc import Callable

    from freshforce.connectors.freshbooks.client import FreshBooksClient
    from freshforce.runtime import Runtime

__all__ = ["MAX_BODY_BYTES", "FreshBooksHooks", "router"]

log = structlog.get_logger("freshforce.web.webhooks")
router = APIRouter()
MAX_BODY_BYTES = 16 * 1024  # a delivery is a handful of short form fields
_VERIFY = "callback.verify"


class FreshBooksHooks:
    """The runtime the route confirms callbacks with, and one FreshBooks client per connection.

    The runtime is built on the first post, so a dashboard without ``encryption_keys`` (and so
    without connections) still starts.
    """

    def __init__(self, make_runtime: Callable[[], Runtime]) -> None:
        self._make_runtime = make_runtime
        self._runtime: Runtime | None = None
        self._clients: dict[str, FreshBooksClient] = {}

    @property
    def runtime(self) -> Runtime:
        """Return the runtime, building it once."""
        if self._runtime is None:
            self._runtime = self._make_runtime()
        return self._runtime

    async def client(self, connection: str) -> FreshBooksClient:
        """Return this app's FreshBooks client of ``connection``, opening it once."""
        found = self._clients.get(connection)
        if found is None:
            found = await self.runtime.freshbooks(connection)
            self._clients[connection] = found
        return found


def _refuse(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


@router.post("/webhooks/freshbooks/{connection}", include_in_schema=False)
async def freshbooks_webhook(connection: str, request: Request) -> JSONResponse:
    """Verify a new callback or store a signed delivery; refuse anything else; count both."""
    answer = await _answer(connection, request)
    outcome = "accepted" if answer.status_code < 300 else "rejected"  # noqa: PLR2004 - 2xx
    counter = web_deps(request).metrics.webhooks
    counter.labels(outcome=outcome, status=str(answer.status_code)).inc()
    return answer


async def _answer(  # noqa: PLR0911 - one refusal per way a post can be wrong
    connection: str, request: Request
) -> JSONResponse:
    deps = web_deps(request)
    hooks: FreshBooksHooks = request.app.state.webhooks
    try:
        cipher = hooks.runtime.cipher
    except ConfigError:
        return _refuse(503, "webhooks need encryption_keys to be set")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return _refuse(413, f"delivery larger than {MAX_BODY_BYTES} bytes")
    async with deps.engine.connect() as db:
        found = await load_connection(db, cipher, connection)
        verifiers = await load_verifiers(db, cipher, connection) if found else []
    if found is None or found.system != "freshbooks":
        return _refuse(404, f"no FreshBooks connection named {connection!r}")
    form = parse_delivery(body)
    if form is None or not form.get("name"):
        return _refuse(400, "not a FreshBooks delivery: expected a form with a name field")
    account = form.get("account_id")
    if account is not None and found.remote_account and account != found.remote_account:
        return _refuse(403, f"delivery for another FreshBooks account than {connection!r}")
    if form["name"] == _VERIFY:
        return await _verify(hooks, request, connection, form)
    signature = request.headers.get(SIGNATURE_HEADER)
    secret = next(
        (
            v.get_secret_value()
            for v in verifiers
            if verify_signature(v.get_secret_value(), body, signature)
        ),
        None,
    )
    result = await receive_freshbooks(
        deps.engine,
        deps.queue,
        body,
        signature,
        secret,
        now=deps.clock(),
        tenant=found.tenant,
        also=deps.webhook_also,
    )
    if result.outcome is not WebhookOutcome.STORED:
        if secret is None:
            return _refuse(401, f"missing or invalid {SIGNATURE_HEADER} signature")
        return _refuse(400, delivery_problem(form) or "delivery refused")
    return JSONResponse({"status": "stored", "jobs": len(result.jobs)})


async def _verify(
    hooks: FreshBooksHooks, request: Request, connection: str, form: dict[str, str]
) -> JSONResponse:
    deps = web_deps(request)
    callback_id, verifier = form.get("object_id", ""), form.get("verifier", "")
    if not callback_id.isdigit() or not verifier:
        return _refuse(400, "callback.verify without a numeric object_id and a verifier")
    try:
        client = await hooks.client(connection)
        await client.verify_callback(int(callback_id), verifier)
    except FreshforceError as exc:
        log.warning(
            "callback verification refused",
            connection=connection,
            callback=callback_id,
            error=type(exc).__name__,
        )
        return _refuse(400, f"FreshBooks did not accept the verifier of callback {callback_id}")
    async with deps.engine.begin() as db:
        await save_verifier(
            db, hooks.runtime.cipher, connection, callback_id, SecretStr(verifier), now=deps.clock()
        )
    log.info("callback verified", connection=connection, callback=callback_id)
    return JSONResponse({"status": "verified", "callback": callback_id})
