"""Realistic FreshBooks data from a fixed seed: clients, items, taxes, invoices, payments.

The same seed gives the same records (names, amounts, which invoices are paid); only the
timestamps follow the sandbox clock.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import TYPE_CHECKING

from faker import Faker

from freshforce.sandbox.freshbooks.accounting import Accounting, Record

if TYPE_CHECKING:
    from freshforce.sandbox.freshbooks.state import FreshBooksState

__all__ = ["seed_records"]

_TAXES = (("HST", "13"), ("GST", "5"), ("VAT", "20"))
_CURRENCIES = ("USD", "USD", "USD", "CAD", "EUR")


def seed_records(state: FreshBooksState, records: int, seed: int) -> dict[str, int]:
    """Add ``records`` clients and invoices (and items, taxes, payments) to the default account."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)  # noqa: S311 - deterministic sample data
    account = next(iter(state.identities.values())).account_id
    books = state.accounting
    taxes = [
        books.create(
            account, "taxes", {"name": n, "amount": a, "number": f"{n}-{seed}"}, notify=False
        )
        for n, a in _TAXES[: min(records, len(_TAXES))]
    ]
    items = [
        books.create(
            account,
            "items",
            {
                "name": fake.bs().title()[:60],
                "description": fake.catch_phrase(),
                "unit_cost": {
                    "amount": str(Decimal(rng.randint(500, 50_000)) / 100),
                    "code": "USD",
                },
                "qty": str(rng.randint(0, 50)),
                "sku": fake.bothify("SKU-####-??").upper(),
            },
            notify=False,
        )
        for _ in range(min(records, 20))
    ]
    clients = [
        books.create(account, "clients", _client(fake, rng), notify=False) for _ in range(records)
    ]
    payments = 0
    for _ in range(records):
        client = rng.choice(clients)
        body = _invoice(fake, rng, client["id"], items, taxes)
        invoice = books.create(account, "invoices", body, notify=False)
        if rng.random() < 0.6:  # noqa: PLR2004 - share of invoices sent
            books.update(account, "invoices", invoice["id"], {"action_mark_as_sent": True})
        payments += _pay(books, account, invoice, rng, fake)
    return {
        "clients": len(clients),
        "invoices": records,
        "payments": payments,
        "items": len(items),
        "taxes": len(taxes),
    }


def _client(fake: Faker, rng: random.Random) -> dict[str, object]:
    first, last = fake.first_name(), fake.last_name()
    return {
        "fname": first,
        "lname": last,
        "organization": fake.company(),
        "email": f"{first}.{last}@{fake.domain_name()}".lower(),
        "bus_phone": fake.numerify("###-###-####"),
        "p_street": fake.street_address(),
        "p_city": fake.city(),
        "p_province": fake.state(),
        "p_code": fake.postcode(),
        "p_country": "United States",
        "currency_code": rng.choice(_CURRENCIES),
        "note": fake.sentence() if rng.random() < 0.3 else None,  # noqa: PLR2004 - some notes
    }


def _invoice(
    fake: Faker,
    rng: random.Random,
    client_id: int,
    items: list[Record],
    taxes: list[Record],
) -> dict[str, object]:
    lines = []
    for _ in range(rng.randint(1, 3)):
        line: dict[str, object] = {
            "name": str(rng.choice(items)["name"]) if items else fake.bs().title(),
            "description": fake.sentence(),
            "qty": str(rng.randint(1, 10)),
            "unit_cost": {"amount": str(Decimal(rng.randint(1_000, 200_000)) / 100)},
        }
        if taxes and rng.random() < 0.5:  # noqa: PLR2004 - half the lines taxed
            tax = rng.choice(taxes)
            line.update(taxName1=tax["name"], taxAmount1=tax["amount"])
        lines.append(line)
    return {
        "customerid": client_id,
        "create_date": fake.date_between("-90d", "today").isoformat(),
        "due_offset_days": rng.choice((0, 15, 30)),
        "po_number": fake.bothify("PO-#####") if rng.random() < 0.3 else None,  # noqa: PLR2004
        "notes": fake.sentence(),
        "lines": lines,
    }


def _pay(books: Accounting, account: str, invoice: Record, rng: random.Random, fake: Faker) -> int:
    roll = rng.random()
    if roll < 0.4:  # noqa: PLR2004 - 40% stay unpaid
        return 0
    total = Decimal(invoice["amount"]["amount"])
    share = total if roll < 0.8 else (total / 2).quantize(Decimal("0.01"))  # noqa: PLR2004
    books.create(
        account,
        "payments",
        {
            "invoiceid": invoice["id"],
            "amount": {"amount": str(share)},
            "date": fake.date_between("-30d", "today").isoformat(),
            "type": rng.choice(("Check", "Credit Card", "Bank Transfer", "Cash")),
            "note": "Seeded payment",
        },
        notify=False,
    )
    return 1
