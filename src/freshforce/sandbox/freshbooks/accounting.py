"""Accounting records and their behaviour: create, update (PUT phases), delete, invoice totals.

Records are dicts of wire fields (JSON values); keys starting with ``_`` are internal and never
rendered. Every change calls the listeners with ``(event, object_id, account_id, author)``, e.g.
``("invoice.update", 200001, "SBX7QK", None)``: that is how webhooks learn of changes made by
anyone. ``author`` is the user a route named with ``acting_as`` (None: the account's owner, as for
the admin routes); an invoice's ``ownerid`` and ``sentid`` follow it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from freshforce.sandbox.core import SandboxClock
from freshforce.sandbox.freshbooks.errors import ERRNO, FreshBooksApiError, accounting_error
from freshforce.sandbox.freshbooks.invoices import line_amount, status_of, totals_of
from freshforce.sandbox.freshbooks.money import money, parse_amount, parse_decimal
from freshforce.sandbox.freshbooks.resources import RESOURCES, Resource, by_plural
from freshforce.sandbox.freshbooks.templates import TEMPLATES
from freshforce.sandbox.freshbooks.timefmt import eastern, eastern_date, utc_naive

__all__ = ["Accounting", "Author", "ChangeListener", "Record"]


@dataclass(frozen=True)
class Author:
    """Who makes a change: the identity id and the user's id inside the account."""

    identity_id: int
    userid: int


Record = dict[str, Any]  # wire fields, JSON values
ChangeListener = Callable[[str, int, str, Author | None], None]
OWNER_USERID = 1

FIRST_IDS = {
    "clients": 100_001,
    "invoices": 200_001,
    "payments": 300_001,
    "items": 400_001,
    "taxes": 500_001,
}

_CLIENT_COPY = ("fname", "lname", "organization", "email")
_ADDRESS_COPY = (
    ("street", "p_street"),
    ("street2", "p_street2"),
    ("city", "p_city"),
    ("province", "p_province"),
    ("code", "p_code"),
    ("country", "p_country"),
)


class Accounting:
    """All accounting records of the sandbox, keyed by resource plural and id."""

    def __init__(self, clock: SandboxClock) -> None:
        self._clock = clock
        self.records: dict[str, dict[int, Record]] = {r.plural: {} for r in RESOURCES}
        self.next_ids: dict[str, int] = dict(FIRST_IDS)
        self.listeners: list[ChangeListener] = []
        self._author: Author | None = None

    # -- reading -------------------------------------------------------------------------------

    def all(self, account: str, plural: str) -> list[Record]:
        """Return every record of a resource in ``account``, deleted ones included, by id."""
        return [r for r in self.records[plural].values() if r["accounting_systemid"] == account]

    def get(self, account: str, plural: str, record_id: int) -> Record:
        """Return one record or raise FreshBooks' 404 (errno 1012)."""
        record = self.records[plural].get(record_id)
        if record is None or record["accounting_systemid"] != account:
            resource = by_plural(plural)
            raise accounting_error(
                404,
                ERRNO["unknown_resource"],
                f"{resource.singular.capitalize()} not found.",
                obj=resource.singular,
                field=resource.id_field,
                value=record_id,
            )
        return record

    def client_outstanding(self, account: str, client_id: int) -> list[dict[str, Any]]:
        """Sum a client's outstanding invoice balances per currency (``outstanding_balance``)."""
        sums: dict[str, Decimal] = {}
        for inv in self.all(account, "invoices"):
            if inv["customerid"] == client_id and inv["vis_state"] != 1:
                code = inv["currency_code"]
                sums[code] = sums.get(code, Decimal(0)) + Decimal(inv["outstanding"]["amount"])
        return [{"amount": money(amount, code)} for code, amount in sorted(sums.items())]

    # -- writing -------------------------------------------------------------------------------

    def create(self, account: str, plural: str, body: Record, *, notify: bool = True) -> Record:
        """Create a record from a write body's inner object; return it."""
        resource = by_plural(plural)
        record_id = self.next_ids[plural]
        record: Record = {"id": record_id, resource.id_field: record_id}
        record["accounting_systemid"] = account
        record.update(_defaults(TEMPLATES[plural], body))
        record["vis_state"] = _vis_state(body.get("vis_state", 0))
        builders: dict[str, Callable[[str, Record, Record], None]] = {
            "clients": self._new_client,
            "invoices": self._new_invoice,
            "payments": self._new_payment,
            "items": self._new_item,
            "taxes": self._new_tax,
        }
        builders[plural](account, record, body)
        self.next_ids[plural] = record_id + 1
        self.records[plural][record_id] = record
        self._touch(record)
        if plural == "payments":
            self._recompute(account, record["invoiceid"], notify=notify)
        if notify:
            self._emit(f"{resource.event}.create", record_id, account)
        return record

    def update(self, account: str, plural: str, record_id: int, body: Record) -> Record:
        """Apply a PUT by FreshBooks' phase rule: vis_state, else actions, else fields."""
        resource = by_plural(plural)
        record = self.get(account, plural, record_id)
        if "ext_vis_state" in body or "vis_state" in body:
            return self._set_vis_state(resource, record, body)
        if plural == "invoices" and ("action_mark_as_sent" in body or "action_email" in body):
            record["_sent"] = True
            record["sentid"] = self._userid()
            self._recompute(account, record_id, notify=False)
            if body.get("action_email"):
                self._emit("invoice.sendByEmail", record_id, account)
            self._emit("invoice.update", record_id, account)
            return record
        self._update_fields(account, resource, record, body)
        self._touch(record)
        self._emit(f"{resource.event}.update", record_id, account)
        return record

    def delete(self, account: str, plural: str, record_id: int) -> Record:
        """Soft-delete (``vis_state`` 1), as both HTTP DELETE and ``PUT vis_state=1`` do."""
        return self.update(account, plural, record_id, {"vis_state": 1})

    # -- behaviour per resource ----------------------------------------------------------------

    def _new_client(self, _account: str, record: Record, body: Record) -> None:
        if not any(body.get(k) for k in ("email", "organization", "fname", "lname")):
            raise _required("client", "email", "email, organization, fname or lname is required.")
        if not record["organization"] and not (record["fname"] or record["lname"]):
            record["organization"] = record["email"]
        now = self._clock.now()
        stable = _stable_uuid(record)
        record.update(
            signup_date=utc_naive(now),
            username=stable.hex[:10],
            uuid=str(stable),
            role="client",
            level=0,
            num_logins=0,
            notified=False,
            last_activity=None,
            last_login=None,
            has_retainer=None,
            retainer_id=None,
        )

    def _new_invoice(self, account: str, record: Record, body: Record) -> None:
        client = self._invoice_client(account, body)
        record["customerid"] = client["id"]
        record["_sent"] = False
        record["created_at"] = eastern(self._clock.now())
        given = body.get("create_date")
        record["create_date"] = _date(given, "invoice", "create_date") if given else None
        record["create_date"] = record["create_date"] or eastern_date(self._clock.now())
        record["currency_code"] = record["currency_code"] or client["currency_code"]
        record["invoice_number"] = record["invoice_number"] or self._next_number(account)
        owner = self._userid()
        record.update(ownerid=owner, sentid=owner, estimateid=0, basecampid=0, parent=0)
        record["ext_archive"] = 0
        record.update(uuid=str(_stable_uuid(record)))
        record["accountid"] = account
        self._copy_client(record, client)
        record["lines"] = self._lines(record, body.get("lines", []))
        self._totals(record)
        self._apply_status(record, [])

    def _new_payment(self, account: str, record: Record, body: Record) -> None:
        if body.get("invoiceid") in (None, ""):
            raise _required("payment", "invoiceid", "Invoice ID is required.")
        invoice = self._linked(account, "invoices", body["invoiceid"], "payment", "invoiceid")
        if "amount" not in body:
            raise _required("payment", "amount", "Amount is required.")
        amount, code = _amount(body["amount"], "payment", "amount")
        record["invoiceid"] = invoice["id"]
        record["clientid"] = invoice["customerid"]
        record["amount"] = money(amount, code or invoice["currency_code"])
        record["date"] = _date(record["date"], "payment", "date") if record["date"] else None
        record["date"] = record["date"] or eastern_date(self._clock.now())
        record.update(from_credit=False, creditid=None, overpaymentid=None, gateway=None)
        record.update(bulk_paymentid=None, send_client_notification=None)

    def _new_item(self, _account: str, record: Record, body: Record) -> None:
        if not body.get("name"):
            raise _required("item", "name", "Name is required.")
        amount, code = _amount(body.get("unit_cost") or "0", "item", "unit_cost")
        record["unit_cost"] = money(amount, code or "USD")
        record["qty"] = str(body.get("qty", "0"))

    def _new_tax(self, _account: str, record: Record, body: Record) -> None:
        if not body.get("name"):
            raise _required("tax", "name", "Name is required.")
        record["amount"] = str(_decimal(body.get("amount", "0"), "tax", "amount"))

    def _update_fields(
        self, account: str, resource: Resource, record: Record, body: Record
    ) -> None:
        plural = resource.plural
        changes = _known(TEMPLATES[plural], body)
        if plural == "payments":
            if "amount" in body:
                amount, code = _amount(body["amount"], "payment", "amount")
                changes["amount"] = money(amount, code or record["amount"]["code"])
            if "date" in changes:
                changes["date"] = _date(changes["date"], "payment", "date")
            record.update(changes)
            self._recompute(account, record["invoiceid"], notify=True)
            return
        if plural == "items" and "unit_cost" in body:
            amount, code = _amount(body["unit_cost"], "item", "unit_cost")
            changes["unit_cost"] = money(amount, code or record["unit_cost"]["code"])
        if plural == "taxes" and "amount" in body:
            changes["amount"] = str(_decimal(body["amount"], "tax", "amount"))
        record.update(changes)
        if plural == "invoices":
            if "customerid" in body:
                client = self._invoice_client(account, body)
                record["customerid"] = client["id"]
                self._copy_client(record, client)
            if "lines" in body:
                record["lines"] = self._lines(record, body["lines"])
            self._totals(record)
            self._recompute(account, record["id"], notify=False)

    def _set_vis_state(self, resource: Resource, record: Record, body: Record) -> Record:
        key = "ext_vis_state" if "ext_vis_state" in body else "vis_state"
        record[key] = _vis_state(body[key])
        account = record["accounting_systemid"]
        self._touch(record)
        if resource.plural == "payments":
            self._recompute(account, record["invoiceid"], notify=True)
        verb = "delete" if record.get("vis_state") == 1 else "update"
        self._emit(f"{resource.event}.{verb}", record["id"], account)
        return record

    # -- invoices ------------------------------------------------------------------------------

    def _invoice_client(self, account: str, body: Record) -> Record:
        if body.get("customerid") in (None, ""):
            raise _required("invoice", "customerid", "Customer ID is required.")
        return self._linked(account, "clients", body["customerid"], "invoice", "customerid")

    def _linked(self, account: str, plural: str, raw_id: Any, obj: str, field: str) -> Record:  # noqa: ANN401 - JSON
        try:
            record_id = int(raw_id)
        except (TypeError, ValueError):
            raise accounting_error(
                400,
                ERRNO["invalid_value"],
                f"{field} must be an integer.",
                obj=obj,
                field=field,
                value=raw_id,
            ) from None
        found = self.records[plural].get(record_id)
        if found is None or found["accounting_systemid"] != account or found["vis_state"] == 1:
            singular = by_plural(plural).singular
            raise accounting_error(
                404,
                ERRNO["unknown_resource"],
                f"{singular.capitalize()} not found.",
                obj=obj,
                field=field,
                value=raw_id,
            )
        return found

    def _copy_client(self, record: Record, client: Record) -> None:
        for key in _CLIENT_COPY:
            record[key] = client[key]
        record["current_organization"] = client["organization"]
        for invoice_key, client_key in _ADDRESS_COPY:
            record[invoice_key] = client[client_key]

    def _lines(self, invoice: Record, lines: Any) -> list[Record]:  # noqa: ANN401 - JSON
        if not isinstance(lines, list):
            raise accounting_error(
                400, ERRNO["invalid_value"], "lines must be a list.", obj="invoice", field="lines"
            )
        stamp = eastern(self._clock.now())
        return [self._line(invoice, n, line, stamp) for n, line in enumerate(lines, start=1)]

    def _line(self, invoice: Record, number: int, line: Any, stamp: str) -> Record:  # noqa: ANN401 - JSON
        if not isinstance(line, dict):
            raise accounting_error(
                400,
                ERRNO["invalid_value"],
                f"lines[{number - 1}] must be an object.",
                obj="line",
                field="lines",
            )
        code = invoice["currency_code"]
        unit, _ = _amount(line.get("unit_cost") or "0", "line", f"lines[{number - 1}].unit_cost")
        qty = _decimal(line.get("qty", "1"), "line", f"lines[{number - 1}].qty")
        built: Record = {
            "lineid": number,
            "invoiceid": invoice["id"],
            "type": 1 if str(line.get("type", 0)) == "1" else 0,
            "name": str(line.get("name", "")),
            "description": str(line.get("description", "")),
            "qty": _plain(qty),
            "unit_cost": money(unit, code),
            "taxName1": line.get("taxName1") or "",
            "taxAmount1": str(line.get("taxAmount1") or "0"),
            "taxNumber1": line.get("taxNumber1") or "",
            "taxName2": line.get("taxName2") or "",
            "taxAmount2": str(line.get("taxAmount2") or "0"),
            "taxNumber2": line.get("taxNumber2") or "",
            "compounded_tax": bool(line.get("compounded_tax", False)),
            "expenseid": 0,
            "taskno": number,
            "retainer_id": None,
            "retainer_period_id": None,
            "modern_project_id": None,
            "modern_time_entries": [],
            "date": None,
            "updated": stamp,
        }
        built["amount"] = money(line_amount(built), code)
        return built

    def _totals(self, invoice: Record) -> None:
        try:
            totals = totals_of(invoice["lines"], invoice["discount_value"])
        except ValueError as exc:
            raise accounting_error(
                400, ERRNO["invalid_value"], str(exc), obj="invoice", field="discount_value"
            ) from exc
        code = invoice["currency_code"]
        invoice["amount"] = money(totals.amount, code)
        invoice["discount_total"] = money(totals.discount_total, code)
        offset = _whole(invoice.get("due_offset_days") or 0, "invoice", "due_offset_days")
        invoice["due_offset_days"] = offset
        invoice["create_date"] = _date(invoice["create_date"], "invoice", "create_date")
        created = datetime.fromisoformat(invoice["create_date"])
        invoice["due_date"] = (created + timedelta(days=offset)).date().isoformat()

    def _recompute(self, account: str, invoice_id: int, *, notify: bool) -> None:
        invoice = self.records["invoices"].get(invoice_id)
        if invoice is None:
            return
        payments = [
            p
            for p in self.all(account, "payments")
            if p["invoiceid"] == invoice_id and p["vis_state"] != 1
        ]
        self._apply_status(invoice, payments)
        self._touch(invoice)
        if notify:
            self._emit("invoice.update", invoice_id, account)

    def _apply_status(self, invoice: Record, payments: list[Record]) -> None:
        code = invoice["currency_code"]
        payments = [p for p in payments if p["amount"]["code"] == code]  # no exchange rates
        paid = sum((Decimal(p["amount"]["amount"]) for p in payments), Decimal(0))
        amount = Decimal(invoice["amount"]["amount"])
        state = status_of(amount, paid, bool(invoice["_sent"]))
        invoice.update(
            status=state.status,
            v3_status=state.v3_status,
            payment_status=state.payment_status,
            display_status=state.display_status,
            paid=money(state.paid, code),
            net_paid_amount=money(state.paid, code),
            outstanding=money(state.outstanding, code),
            date_paid=max(p["date"] for p in payments) if state.status == 4 else None,  # noqa: PLR2004 - paid
        )

    def _next_number(self, account: str) -> str:
        # The newest invoice of the account decides; scan from the end (ids only grow), so a
        # create costs O(1) in the usual case instead of a pass over every invoice.
        last = next(
            (
                str(inv["invoice_number"])
                for inv in reversed(self.records["invoices"].values())
                if inv["accounting_systemid"] == account
            ),
            None,
        )
        if last is None:
            return "0000001"
        digits = len(last) - len(last.rstrip("0123456789"))
        if digits == 0:
            return f"{last}1"
        head, tail = last[: len(last) - digits], last[len(last) - digits :]
        return f"{head}{int(tail) + 1:0{len(tail)}d}"

    # -- bookkeeping ---------------------------------------------------------------------------

    def _touch(self, record: Record) -> None:
        record["updated"] = eastern(self._clock.now())

    def _userid(self) -> int:
        return self._author.userid if self._author is not None else OWNER_USERID

    @contextlib.contextmanager
    def acting_as(self, author: Author) -> Iterator[None]:
        """Make the changes inside the block (synchronous, no await) as ``author``."""
        before, self._author = self._author, author
        try:
            yield
        finally:
            self._author = before

    @contextlib.contextmanager
    def silenced(self) -> Iterator[None]:
        """Change records inside the block without telling the listeners (no webhooks)."""
        listeners, self.listeners = self.listeners, []
        try:
            yield
        finally:
            self.listeners = listeners

    def _emit(self, event: str, object_id: int, account: str) -> None:
        for listener in self.listeners:
            listener(event, object_id, account, self._author)

    def snapshot(self) -> dict[str, Any]:
        return {
            "records": {plural: list(rows.values()) for plural, rows in self.records.items()},
            "next_ids": dict(self.next_ids),
        }

    def restore(self, data: dict[str, Any]) -> None:
        self.records = {
            plural: {row["id"]: row for row in data["records"].get(plural, [])}
            for plural in self.records
        }
        self.next_ids = {**FIRST_IDS, **data["next_ids"]}

    def clear(self) -> None:
        self.records = {r.plural: {} for r in RESOURCES}
        self.next_ids = dict(FIRST_IDS)


def _defaults(template: Record, body: Record) -> Record:
    """Return the template's defaults overlaid by the body's known keys (unknown keys ignored)."""
    return {k: body.get(k, default) for k, default in template.items()}


def _known(template: Record, body: Record) -> Record:
    """Return only the body's keys the resource knows."""
    return {k: body[k] for k in template if k in body}


def _date(value: Any, obj: str, field: str) -> str:  # noqa: ANN401 - JSON
    """Check a ``YYYY-MM-DD`` date and return it, or raise errno 1004 naming the field."""
    text = str(value)
    with contextlib.suppress(ValueError):
        if len(text) == len("YYYY-MM-DD"):
            return date.fromisoformat(text).isoformat()
    raise accounting_error(
        400,
        ERRNO["invalid_value"],
        f"{field} must be a date YYYY-MM-DD.",
        obj=obj,
        field=field,
        value=value,
    )


def _whole(value: Any, obj: str, field: str) -> int:  # noqa: ANN401 - JSON
    if isinstance(value, bool) or not str(value).lstrip("-").isdigit():
        raise accounting_error(
            400,
            ERRNO["invalid_value"],
            f"{field} must be a whole number.",
            obj=obj,
            field=field,
            value=value,
        )
    return int(value)


def _stable_uuid(record: Record) -> uuid.UUID:
    """Derive a record's uuid from its account and id, so seeded data is reproducible."""
    return uuid.uuid5(
        uuid.NAMESPACE_URL, f"freshbooks:{record['accounting_systemid']}:{record['id']}"
    )


def _required(obj: str, field: str, message: str) -> FreshBooksApiError:
    return accounting_error(422, ERRNO["required"], message, obj=obj, field=field)


def _amount(value: Any, obj: str, field: str) -> tuple[Decimal, str | None]:  # noqa: ANN401 - JSON
    try:
        return parse_amount(value, field)
    except ValueError as exc:
        raise accounting_error(
            400, ERRNO["invalid_value"], str(exc), obj=obj, field=field, value=value
        ) from exc


def _decimal(value: Any, obj: str, field: str) -> Decimal:  # noqa: ANN401 - JSON
    try:
        return parse_decimal(value, field)
    except ValueError as exc:
        raise accounting_error(
            400, ERRNO["invalid_value"], str(exc), obj=obj, field=field, value=value
        ) from exc


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _vis_state(value: Any) -> int:  # noqa: ANN401 - JSON
    if value not in (0, 1, 2, "0", "1", "2"):
        raise accounting_error(
            400,
            ERRNO["invalid_value"],
            "vis_state must be 0, 1 or 2.",
            field="vis_state",
            value=value,
        )
    return int(value)
