"""FreshBooks webhook intake: a signed delivery becomes a raw event and a reconcile job.

The web app's route (``create_app`` mounts it, so ``freshforce run`` will be one process)
hands :func:`receive_freshbooks` the raw body, the ``X-FreshBooks-Hmac-SHA256`` header and the
callback's stored verifier. A delivery whose signature does not verify is refused with nothing
stored. A verified one (``name=invoice.update&object_id=…&account_id=…``; FreshBooks sends no
record data) is stored by :func:`~freshforce.intake.commit.commit` with no lease and no cursor:
the raw event for lineage and a coalesced "reconcile freshbooks/<kind>/<id> for FLOW" job, so
duplicates and reordered deliveries cost one read. ``callback.verify`` carries the verifier of a
new callback; it is handed back for the route to confirm with FreshBooks, and nothing is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from freshforce.connectors.freshbooks.signature import verify_signature
from freshforce.engine.queue import JobRequest
from freshforce.intake.commit import Batch, commit
from freshforce.store.events import NewEvent

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from freshforce.engine.queue import JobQueue

__all__ = [
    "DEFAULT_FLOWS",
    "WebhookOutcome",
    "WebhookResult",
    "delivery_problem",
    "parse_delivery",
    "receive_freshbooks",
]

# The object kind of an event name (``client`` of ``client.update``) -> the flow it feeds. An
# invoice's events feed the payments flow: the invoices flow is triggered by Opportunities only,
# and a change to an invoice (a payment applied, the invoice deleted) moves its payment status.
DEFAULT_FLOWS: Mapping[str, str] = MappingProxyType(
    {"client": "clients", "invoice": "payments", "payment": "payments"}
)
_VERIFY = "callback.verify"
_MAX_ID_DIGITS = 20  # a FreshBooks id is a 64-bit number at most
# The object kind of an event name -> more flows it feeds (mirror flows), a job each.
_NO_MORE: Mapping[str, tuple[str, ...]] = MappingProxyType({})


class WebhookOutcome(StrEnum):
    """What became of one delivery."""

    STORED = "stored"  # event (and job, when a flow wants the kind) committed
    VERIFY = "verify"  # a new callback's verifier: confirm it with FreshBooks
    REFUSED = "refused"  # bad signature or not a delivery: answer 401/400, store nothing


@dataclass(frozen=True)
class WebhookResult:
    """The outcome, the event name and object, and what was enqueued or must be verified."""

    outcome: WebhookOutcome
    name: str = ""
    object_id: str = ""
    jobs: tuple[JobRequest, ...] = ()
    verifier: str | None = None


async def receive_freshbooks(
    engine: AsyncEngine,
    queue: JobQueue,
    body: bytes,
    signature: str | None,
    verifier: str | None,
    *,
    now: datetime,
    flows: Mapping[str, str] = DEFAULT_FLOWS,
    tenant: str = "default",
    also: Mapping[str, tuple[str, ...]] = _NO_MORE,
) -> WebhookResult:
    """Check and store one FreshBooks delivery (for ``tenant``); never raises for a bad one."""
    form = parse_delivery(body)
    if form is None or not form.get("name"):
        return WebhookResult(WebhookOutcome.REFUSED)
    name, object_id = form["name"], form.get("object_id", "")
    if name == _VERIFY:
        return WebhookResult(WebhookOutcome.VERIFY, name, object_id, verifier=form.get("verifier"))
    if verifier is None or not verify_signature(verifier, body, signature):
        return WebhookResult(WebhookOutcome.REFUSED, name, object_id)
    if delivery_problem(form) is not None:
        return WebhookResult(WebhookOutcome.REFUSED, name, object_id)
    kind = name.split(".", 1)[0]
    event = NewEvent("webhook", "freshbooks", kind, object_id, dict(form), tenant)
    flow = flows.get(kind)
    hint = {"source": "webhook", "event": name}
    wanted = ((flow,) if flow is not None else ()) + tuple(also.get(kind, ()))
    key = f"freshbooks/{kind}/{object_id}"
    jobs = tuple(JobRequest(f, key, (hint,), tenant=tenant) for f in wanted)
    await commit(engine, queue, Batch((event,), jobs), keeper=None, now=now, tenant=tenant)
    return WebhookResult(WebhookOutcome.STORED, name, object_id, jobs)


def parse_delivery(body: bytes) -> dict[str, str] | None:
    """Return the fields of a form-encoded delivery, or ``None`` when it is not one."""
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
    except (UnicodeDecodeError, ValueError):
        return None


def delivery_problem(form: Mapping[str, str]) -> str | None:
    """Say what makes a signed delivery unusable, or ``None`` when it can be stored.

    FreshBooks ids are numbers and its deliveries hold printable text only; a NUL character
    (which no database text column holds) or an id that is not a number is refused, not stored.
    """
    object_id = form.get("object_id", "")
    if not object_id:
        return "signed delivery without an object_id"
    if not (object_id.isascii() and object_id.isdigit() and len(object_id) <= _MAX_ID_DIGITS):
        return f"object_id must be a FreshBooks id (up to {_MAX_ID_DIGITS} digits)"
    bad = next((key for key, value in form.items() if "\x00" in key + value), None)
    if bad is not None:
        return f"field {bad!r} holds a NUL character"
    return None
