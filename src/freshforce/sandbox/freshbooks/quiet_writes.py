"""Writes no client made: silent edits and seeded records with given times and owners.

A silent edit changes a record with no webhook and, unless ``touch`` is set, leaves every
``updated`` stamp as it was (the record's, and its invoice's for a payment): only a reconciler
comparing values can find it. A seeded record sends no webhook and carries the given creation and
update times (payments in another currency and refunds, i.e. negative amounts, included).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from freshforce.sandbox.freshbooks.accounting import Accounting, Record
from freshforce.sandbox.freshbooks.timefmt import eastern, utc_naive

__all__ = ["seed_record", "silent_update"]


@contextmanager
def _stamps_kept(books: Accounting) -> Iterator[None]:
    """Put every record's ``updated`` back as it was before the block."""
    before = {
        (plural, record_id): record.get("updated")
        for plural, rows in books.records.items()
        for record_id, record in rows.items()
    }
    yield
    for (plural, record_id), stamp in before.items():
        books.records[plural][record_id]["updated"] = stamp


def silent_update(
    books: Accounting, account: str, plural: str, record_id: int, fields: Record, *, touch: bool
) -> Record:
    """Apply a PUT body's inner object with no webhook; keep timestamps unless ``touch``."""
    with books.silenced():
        if touch:
            return books.update(account, plural, record_id, fields)
        with _stamps_kept(books):
            return books.update(account, plural, record_id, fields)


def seed_record(
    books: Accounting,
    account: str,
    plural: str,
    fields: Record,
    *,
    created: datetime | None,
    updated: datetime | None,
    owner: int | None,
) -> Record:
    """Create a record with no webhook, as of ``created`` and last changed at ``updated``."""
    with books.silenced(), _stamps_kept(books):
        record = books.create(account, plural, fields, notify=False)
    if owner is not None:
        record["ownerid"] = owner
    if created is not None:
        if plural == "invoices":
            record["created_at"] = eastern(created)
        elif plural == "clients":
            record["signup_date"] = utc_naive(created)
    stamp = updated or created
    if stamp is not None:
        record["updated"] = eastern(stamp)
    return record
