"""The ``/_sandbox/freshbooks`` routes that act as a person or behind every client's back.

- ``POST /_sandbox/freshbooks/ui/{clients|invoices}/{id}/{archive|restore|delete}``: what the
  web UI's buttons do, with the webhooks the product sends (``<object>.update`` for archive and
  restore, ``<object>.delete`` for delete).
- ``POST /_sandbox/freshbooks/ui/invoices/{id}/payments``: record a payment (``payment.create``
  and ``invoice.update``).
- ``POST /_sandbox/freshbooks/ui/invoices/{id}/send``: mark sent (``invoice.update``), or e-mail
  it (``invoice.sendByEmail`` too).
- ``POST /_sandbox/freshbooks/silent``: change a record with no webhook, timestamps kept unless
  ``touch``.
- ``POST /_sandbox/freshbooks/records``: seed records with given times and owner, no webhook.

The ``ui`` routes act as the account's owner, or as ``?user=`` (an id, e-mail or name from
``/_sandbox/users``); a seeded invoice's ``owner`` is a user id inside the account or a user.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from datetime import date as calendar_date
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from freshforce.sandbox.freshbooks.accounting import Accounting, Author, Record
from freshforce.sandbox.freshbooks.quiet_writes import seed_record, silent_update
from freshforce.sandbox.freshbooks.resources import by_plural
from freshforce.sandbox.freshbooks.wire import render

__all__ = ["freshbooks_ui_router"]

# Admin bodies are JSON objects of any shape.
JSON = dict[str, Any]
DEFAULT_ACCOUNT = "SBX7QK"
Visibility = Literal["archive", "restore", "delete"]
Plural = Literal["clients", "invoices", "payments", "items", "taxes"]
_VIS_STATE: dict[str, int] = {"restore": 0, "delete": 1, "archive": 2}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PaymentBody(_Strict):
    amount: str = Field(pattern=r"^-?\d+(\.\d{1,2})?$")
    code: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    date: calendar_date | None = None
    type: str = "Check"
    note: str = ""


class SendBody(_Strict):
    email: bool = False


class SilentBody(_Strict):
    resource: Plural
    id: int
    fields: dict[str, Any] = Field(min_length=1)  # a PUT body's inner object, JSON
    touch: bool = False


class SeedRecordBody(_Strict):
    fields: dict[str, Any]  # a POST body's inner object, JSON
    created: datetime | None = None
    updated: datetime | None = None
    owner: int | str | None = None  # a userid inside the account, or a user's id, e-mail or name


class RecordsBody(_Strict):
    resource: Plural
    records: list[SeedRecordBody] = Field(min_length=1, max_length=10_000)


AuthorNamed = Callable[[str], Author]  # raises LookupError for nobody


def freshbooks_ui_router(books: Accounting, author_named: AuthorNamed) -> APIRouter:
    """Build ``/_sandbox/freshbooks/{ui/*,silent,records}`` over the accounting records."""
    router = APIRouter(prefix="/_sandbox/freshbooks", tags=["sandbox admin"])
    _ui_routes(router, books, author_named)
    _quiet_routes(router, books, author_named)
    return router


@contextlib.contextmanager
def _as(books: Accounting, author_named: AuthorNamed, user: str | None) -> Iterator[None]:
    """Act as ``user`` (the owner when None), or answer 422 naming the unknown user."""
    if user is None:
        yield
        return
    try:
        author = author_named(user)
    except LookupError as exc:
        raise HTTPException(422, f"user: {exc}") from exc
    with books.acting_as(author):
        yield


def _ui_routes(router: APIRouter, books: Accounting, author_named: AuthorNamed) -> None:
    # The specific invoice actions first: the generic visibility route would match them.
    @router.post("/ui/invoices/{invoice_id}/payments", status_code=201)
    async def pay(
        invoice_id: int, body: PaymentBody, account: str = DEFAULT_ACCOUNT, user: str | None = None
    ) -> JSON:
        fields: Record = {"invoiceid": invoice_id, "amount": {"amount": body.amount}}
        if body.code is not None:
            fields["amount"]["code"] = body.code
        fields.update(type=body.type, note=body.note)
        if body.date is not None:
            fields["date"] = body.date.isoformat()
        with _as(books, author_named, user):
            made = books.create(account, "payments", fields)
        return {"payment": _shown("payments", made)}

    @router.post("/ui/invoices/{invoice_id}/send")
    async def send(
        invoice_id: int, body: SendBody, account: str = DEFAULT_ACCOUNT, user: str | None = None
    ) -> JSON:
        action = "action_email" if body.email else "action_mark_as_sent"
        with _as(books, author_named, user):
            invoice = books.update(account, "invoices", invoice_id, {action: True})
        return {"invoice": _shown("invoices", invoice)}

    @router.post("/ui/{plural}/{record_id}/{action}")
    async def visibility(
        plural: Literal["clients", "invoices"],
        record_id: int,
        action: Visibility,
        account: str = DEFAULT_ACCOUNT,
        user: str | None = None,
    ) -> JSON:
        with _as(books, author_named, user):
            record = books.update(account, plural, record_id, {"vis_state": _VIS_STATE[action]})
        return {"vis_state": record["vis_state"], "id": record_id}


def _quiet_routes(router: APIRouter, books: Accounting, author_named: AuthorNamed) -> None:
    @router.post("/silent")
    async def silent(body: SilentBody, account: str = DEFAULT_ACCOUNT) -> JSON:
        record = silent_update(
            books, account, body.resource, body.id, body.fields, touch=body.touch
        )
        return {"record": _shown(body.resource, record)}

    @router.post("/records", status_code=201)
    async def records(body: RecordsBody, account: str = DEFAULT_ACCOUNT) -> JSON:
        if body.resource != "invoices" and any(r.owner is not None for r in body.records):
            raise HTTPException(422, "owner: only invoices have an owner (ownerid)")
        made = [
            seed_record(
                books,
                account,
                body.resource,
                item.fields,
                created=_aware(item.created),
                updated=_aware(item.updated),
                owner=_owner(author_named, item.owner),
            )
            for item in body.records
        ]
        return {"resource": body.resource, "ids": [r["id"] for r in made]}


def _owner(author_named: AuthorNamed, owner: int | str | None) -> int | None:
    """Return the userid an invoice's ``ownerid`` holds for a seeded ``owner``."""
    if owner is None or isinstance(owner, int):
        return owner
    try:
        return author_named(owner).userid
    except LookupError as exc:
        raise HTTPException(422, f"owner: {exc}") from exc


def _shown(plural: str, record: Record) -> Record:
    """Render a record as a single GET shows it."""
    return render(by_plural(plural), record, frozenset(), single=True)


def _aware(moment: datetime | None) -> datetime | None:
    """Read a naive time as UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
