"""FreshBooks records: pydantic models at the wire edge, converted once into frozen dataclasses.

Money is ``Decimal`` (never float), ``updated`` is an aware UTC datetime, ids are ``int``. Each
dataclass keeps ``raw``, the record's wire fields, so mapping can reach custom fields later.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from freshforce.connectors.freshbooks.wiretime import from_eastern

__all__ = [
    "Client",
    "Identity",
    "Invoice",
    "InvoiceLine",
    "Item",
    "Money",
    "Payment",
    "Record",
    "Tax",
    "parse_record",
]

Wire = Mapping[str, Any]  # one record's JSON fields, at the wire


@dataclass(frozen=True)
class Money:
    """An amount in a currency."""

    amount: Decimal
    code: str | None = None

    def wire(self) -> dict[str, str]:
        body = {"amount": str(self.amount)}
        if self.code:
            body["code"] = self.code
        return body


@dataclass(frozen=True)
class Identity:
    """Who a FreshBooks token speaks for, and the ids used in URLs."""

    identity_id: int
    email: str | None
    account_id: str
    business_id: int
    business_uuid: str | None


@dataclass(frozen=True)
class Record:
    """What every accounting record has."""

    id: int
    updated: dt.datetime | None
    vis_state: int
    raw: Wire = field(repr=False, compare=False)


@dataclass(frozen=True)
class Client(Record):
    """A FreshBooks client (``users/clients``)."""

    email: str | None = None
    fname: str | None = None
    lname: str | None = None
    organization: str | None = None
    currency_code: str | None = None


@dataclass(frozen=True)
class InvoiceLine:
    """One invoice line; ``amount`` is qty times unit cost, before tax."""

    lineid: int | None
    name: str | None
    description: str | None
    qty: Decimal
    unit_cost: Money
    amount: Money | None


@dataclass(frozen=True)
class Invoice(Record):
    """A FreshBooks invoice with its lines (listed with ``include[]=lines``)."""

    invoice_number: str | None = None
    customerid: int | None = None
    create_date: dt.date | None = None
    currency_code: str | None = None
    amount: Money | None = None
    outstanding: Money | None = None
    paid: Money | None = None
    status: int | None = None
    v3_status: str | None = None
    lines: tuple[InvoiceLine, ...] = ()


@dataclass(frozen=True)
class Payment(Record):
    """A payment recorded against an invoice."""

    invoiceid: int | None = None
    clientid: int | None = None
    amount: Money | None = None
    date: dt.date | None = None
    type: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Item(Record):
    """A billable item."""

    name: str | None = None
    qty: Decimal | None = None
    unit_cost: Money | None = None


@dataclass(frozen=True)
class Tax(Record):
    """A tax rate."""

    name: str | None = None
    amount: Decimal | None = None  # a percentage
    number: str | None = None
    compound: bool = False


# -- the wire edge -----------------------------------------------------------------------------


class _Edge(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class _MoneyIn(_Edge):
    amount: Decimal
    code: str | None = None

    def inner(self) -> Money:
        return Money(self.amount, self.code)


class _RecordIn(_Edge):
    id: int
    updated: dt.datetime | None = None
    vis_state: int = 0

    @field_validator("updated", mode="before")
    @classmethod
    def _eastern(cls, value: object) -> object:
        if isinstance(value, str) and "T" not in value:
            return from_eastern(value)
        return value


class _ClientIn(_RecordIn):
    email: str | None = None
    fname: str | None = None
    lname: str | None = None
    organization: str | None = None
    currency_code: str | None = None


class _LineIn(_Edge):
    lineid: int | None = None
    name: str | None = None
    description: str | None = None
    qty: Decimal = Decimal(1)
    unit_cost: _MoneyIn
    amount: _MoneyIn | None = None


class _InvoiceIn(_RecordIn):
    invoice_number: str | None = None
    customerid: int | None = None
    create_date: dt.date | None = None
    currency_code: str | None = None
    amount: _MoneyIn | None = None
    outstanding: _MoneyIn | None = None
    paid: _MoneyIn | None = None
    status: int | None = None
    v3_status: str | None = None
    lines: list[_LineIn] = []


class _PaymentIn(_RecordIn):
    invoiceid: int | None = None
    clientid: int | None = None
    amount: _MoneyIn | None = None
    date: dt.date | None = None
    type: str | None = None
    note: str | None = None


class _ItemIn(_RecordIn):
    name: str | None = None
    qty: Decimal | None = None
    unit_cost: _MoneyIn | None = None


class _TaxIn(_RecordIn):
    name: str | None = None
    amount: Decimal | None = None
    number: str | None = None
    compound: bool = False


def _money(value: _MoneyIn | None) -> Money | None:
    return None if value is None else value.inner()


def _client(m: _ClientIn, raw: Wire) -> Client:
    return Client(
        m.id, m.updated, m.vis_state, raw, m.email, m.fname, m.lname, m.organization,
        m.currency_code,
    )  # fmt: skip


def _invoice(m: _InvoiceIn, raw: Wire) -> Invoice:
    lines = tuple(
        InvoiceLine(
            line.lineid,
            line.name,
            line.description,
            line.qty,
            line.unit_cost.inner(),
            _money(line.amount),
        )
        for line in m.lines
    )
    return Invoice(
        m.id, m.updated, m.vis_state, raw, m.invoice_number, m.customerid, m.create_date,
        m.currency_code, _money(m.amount), _money(m.outstanding), _money(m.paid), m.status,
        m.v3_status, lines,
    )  # fmt: skip


def _payment(m: _PaymentIn, raw: Wire) -> Payment:
    return Payment(
        m.id, m.updated, m.vis_state, raw, m.invoiceid, m.clientid, _money(m.amount), m.date,
        m.type, m.note,
    )  # fmt: skip


def _item(m: _ItemIn, raw: Wire) -> Item:
    return Item(m.id, m.updated, m.vis_state, raw, m.name, m.qty, _money(m.unit_cost))


def _tax(m: _TaxIn, raw: Wire) -> Tax:
    return Tax(m.id, m.updated, m.vis_state, raw, m.name, m.amount, m.number, m.compound)


def parse_record(singular: str, raw: Wire) -> Record:
    """Validate one wire record of kind ``singular`` and return its dataclass."""
    if singular == "client":
        return _client(_ClientIn.model_validate(raw), raw)
    if singular == "invoice":
        return _invoice(_InvoiceIn.model_validate(raw), raw)
    if singular == "payment":
        return _payment(_PaymentIn.model_validate(raw), raw)
    if singular == "item":
        return _item(_ItemIn.model_validate(raw), raw)
    if singular == "tax":
        return _tax(_TaxIn.model_validate(raw), raw)
    msg = f"unknown FreshBooks record kind {singular!r}"
    raise ValueError(msg)
