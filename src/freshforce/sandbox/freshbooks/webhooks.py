"""FreshBooks webhooks: the callbacks a user registers, their verification, and signed delivery.

Registering a callback POSTs a verifier to its URI; after the app PUTs that verifier back the
callback is verified, and every accounting change whose event matches (``invoice.create``, or
the bare ``invoice`` for all invoice events) POSTs the documented form, signed with
``X-FreshBooks-Hmac-SHA256 = base64(HMAC-SHA256(verifier, json.dumps(form)))`` (reference §8).
Delivery goes through the shared ``DeliveryQueue``: asynchronous, retried, and as faithful as its
mode allows.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import urllib.parse
from collections.abc import Callable
from typing import Any

from freshforce.sandbox.core import DeliveryQueue, Outgoing, SandboxClock
from freshforce.sandbox.freshbooks.accounting import Author
from freshforce.sandbox.freshbooks.errors import EVENTS_422, FreshBooksApiError, events_error
from freshforce.sandbox.freshbooks.timefmt import eastern

__all__ = ["EVENT_NAMES", "Callbacks", "WebhookPublisher", "sign"]

_OBJECTS = (
    "bill",
    "bill_vendor",
    "category",
    "client",
    "credit_note",
    "estimate",
    "expense",
    "invoice",
    "item",
    "payment",
    "project",
    "recurring",
    "service",
    "tax",
    "time_entry",
)
EVENT_NAMES = frozenset(
    {f"{obj}{verb}" for obj in _OBJECTS for verb in ("", ".create", ".update", ".delete")}
    | {"invoice.sendByEmail", "estimate.sendByEmail"}
)
Record = dict[str, Any]  # a callback's wire fields plus ``_``-prefixed internals
FIRST_CALLBACK_ID = 600_001


def sign(verifier: str, form: dict[str, str]) -> str:
    """Sign a form as FreshBooks does: base64 HMAC-SHA256 over Python's ``json.dumps``."""
    message = json.dumps({k: str(v) for k, v in form.items()}).encode("utf-8")
    digest = hmac.new(verifier.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def not_found() -> FreshBooksApiError:
    return events_error(404, 404, "Requested resource could not be found.")


class Callbacks:
    """The registered callbacks of every account."""

    def __init__(self, clock: SandboxClock, rng: random.Random) -> None:
        self._clock = clock
        self._rng = rng
        self.records: dict[int, Record] = {}
        self.next_id = FIRST_CALLBACK_ID

    def create(self, account: str, user_id: int, body: Record) -> Record:
        """Register a callback (unverified) with a fresh verifier."""
        event, uri = body.get("event"), body.get("uri")
        _validate(event, uri)
        callback_id = self.next_id
        self.next_id += 1
        record: Record = {
            "callbackid": callback_id,
            "id": callback_id,
            "event": event,
            "uri": uri,
            "verified": False,
            "updated_at": eastern(self._clock.now()),
            "_account": account,
            "_user_id": user_id,
            "_verifier": "".join(
                self._rng.choices("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789", k=30)
            ),
        }
        self.records[callback_id] = record
        return record

    def of_account(self, account: str, event: str | None) -> list[Record]:
        return [
            r
            for r in self.records.values()
            if r["_account"] == account and (event is None or r["event"] == event)
        ]

    def get(self, account: str, callback_id: int) -> Record:
        record = self.records.get(callback_id)
        if record is None or record["_account"] != account:
            raise not_found()
        return record

    def update(self, account: str, callback_id: int, body: Record) -> tuple[Record, bool]:
        """Verify, ask for a resend, or change event/uri; return the record and "resend?"."""
        record = self.get(account, callback_id)
        if "verifier" in body:
            if not hmac.compare_digest(str(body["verifier"]), record["_verifier"]):
                raise events_error(400, 422, EVENTS_422, ["verifier: Invalid verifier."])
            record["verified"] = True
        elif body.get("resend"):
            return record, True
        else:
            event = body.get("event", record["event"])
            uri = body.get("uri", record["uri"])
            _validate(event, uri)
            record.update(event=event, uri=uri)
        record["updated_at"] = eastern(self._clock.now())
        return record, False

    def delete(self, account: str, callback_id: int) -> None:
        self.get(account, callback_id)
        del self.records[callback_id]

    def matching(self, account: str, event: str) -> list[Record]:
        """Return the verified callbacks of ``account`` subscribed to ``event``."""
        bare = event.split(".", 1)[0]
        return [
            r
            for r in self.records.values()
            if r["_account"] == account and r["verified"] and r["event"] in (event, bare)
        ]

    def snapshot(self) -> dict[str, Any]:
        return {"callbacks": list(self.records.values()), "next_id": self.next_id}

    def restore(self, data: dict[str, Any]) -> None:
        self.records = {r["callbackid"]: r for r in data["callbacks"]}
        self.next_id = data["next_id"]

    def clear(self) -> None:
        self.records = {}
        self.next_id = FIRST_CALLBACK_ID


def _validate(event: Any, uri: Any) -> None:  # noqa: ANN401 - JSON
    details = []
    if event not in EVENT_NAMES:
        details.append("event: Value error, Unrecognized event.")
    parsed = urllib.parse.urlsplit(uri) if isinstance(uri, str) else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
        details.append("uri: Input should be a valid URL, relative URL without a base")
    if details:
        raise events_error(400, 422, EVENTS_422, details)


class WebhookPublisher:
    """Turns verifications and accounting changes into signed deliveries on the queue."""

    def __init__(
        self,
        callbacks: Callbacks,
        queue: DeliveryQueue,
        ids_of: Callable[[str], tuple[int, int]],
    ) -> None:
        self._callbacks = callbacks
        self._queue = queue
        self._ids_of = ids_of  # account id -> (business id, identity id)

    def send_verification(self, callback: Record) -> None:
        """POST ``callback.verify`` with the verifier to the callback's URI."""
        form = {
            "name": "callback.verify",
            "object_id": str(callback["callbackid"]),
            "verifier": callback["_verifier"],
            "account_id": callback["_account"],
            "user_id": str(callback["_user_id"]),
        }
        self._enqueue(callback, form)

    def on_change(
        self, event: str, object_id: int, account: str, author: Author | None = None
    ) -> None:
        """Deliver ``event`` to every verified callback that wants it (a ``ChangeListener``).

        ``identity_id`` names who made the change (the account's owner when nobody did through
        the API); ``user_id`` stays the callback's creator, as before several users existed.
        """
        callbacks = self._callbacks.matching(account, event)
        if not callbacks:
            return
        business_id, identity_id = self._ids_of(account)
        if author is not None:
            identity_id = author.identity_id
        for callback in callbacks:
            form = {
                "name": event,
                "object_id": str(object_id),
                "account_id": account,
                "business_id": str(business_id),
                "identity_id": str(identity_id),
                "user_id": str(callback["_user_id"]),
            }
            self._enqueue(callback, form)

    def _enqueue(self, callback: Record, form: dict[str, str]) -> None:
        headers = (
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-FreshBooks-Hmac-SHA256", sign(callback["_verifier"], form)),
            ("User-Agent", "FreshBooks Webhooks (freshforce sandbox)"),
        )
        body = urllib.parse.urlencode(form).encode()
        self._queue.enqueue(
            Outgoing(
                callback["uri"],
                body,
                headers,
                form["name"],
                form["object_id"],
                callback=str(callback["callbackid"]),
            )
        )
