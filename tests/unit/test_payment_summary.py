"""The payment status comes from the payment records: a table of cases and properties."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from freshforce.connectors.freshbooks.models import Invoice, Payment, parse_record
from freshforce.errors import ConfigError
from freshforce.flows.invoice_source import InvoiceSettings
from freshforce.flows.payments import summarise


def invoice(amount: str, code: str = "USD") -> Invoice:
    raw = {"id": 7, "currency_code": code, "amount": {"amount": amount, "code": code}}
    parsed = parse_record("invoice", raw)
    assert isinstance(parsed, Invoice)
    return parsed


def payment(
    n: int, amount: str, *, code: str = "USD", day: str = "2026-12-01", vis: int = 0
) -> Payment:
    raw = {"id": n, "invoiceid": 7, "amount": {"amount": amount, "code": code}, "date": day,
           "vis_state": vis}  # fmt: skip
    parsed = parse_record("payment", raw)
    assert isinstance(parsed, Payment)
    return parsed


@pytest.mark.parametrize(
    ("amounts", "status", "paid", "balance"),
    [
        ([], "unpaid", "0", "100"),
        (["40"], "partial", "40", "60"),
        (["40", "60"], "paid", "100", "0"),
        (["150"], "overpaid", "150", "0"),
        (["100", "-100"], "refunded", "0", "100"),
        (["100", "-30"], "partial", "70", "30"),
        (["-10"], "refunded", "-10", "100"),
    ],
)
def test_status_from_the_records(amounts: list[str], status: str, paid: str, balance: str) -> None:
    found = summarise(invoice("100"), [payment(n, a) for n, a in enumerate(amounts)])
    assert (found.status, found.amount_paid, found.balance) == (
        status, Decimal(paid), Decimal(balance),
    )  # fmt: skip


def test_deleted_and_foreign_payments_do_not_count() -> None:
    payments = [
        payment(1, "30", day="2026-12-01"),
        payment(2, "70", vis=1, day="2026-12-05"),
        payment(3, "70", code="EUR", day="2026-12-06"),
    ]
    found = summarise(invoice("100"), payments)
    assert (found.status, found.amount_paid, found.last_payment_date) == (
        "partial", Decimal(30), "2026-12-01",
    )  # fmt: skip


def test_the_last_payment_date_ignores_refunds() -> None:
    payments = [payment(1, "100", day="2026-12-01"), payment(2, "-20", day="2026-12-09")]
    assert summarise(invoice("100"), payments).last_payment_date == "2026-12-01"


cents = st.integers(min_value=-50_000, max_value=50_000).map(lambda c: Decimal(c) / 100)


@given(total=st.integers(min_value=1, max_value=100_000).map(lambda c: Decimal(c) / 100),
       amounts=st.lists(cents, max_size=6))  # fmt: skip
def test_summary_properties(total: Decimal, amounts: list[Decimal]) -> None:
    found = summarise(invoice(str(total)), [payment(n, str(a)) for n, a in enumerate(amounts)])
    assert found.amount_paid == sum(amounts, Decimal(0))
    assert Decimal(0) <= found.balance <= total
    if found.status == "paid":
        assert found.amount_paid == total
    if found.status in {"partial", "overpaid"}:
        assert found.amount_paid > 0
    if found.status == "refunded":
        assert any(a < 0 for a in amounts)
        assert found.amount_paid <= 0
    assert (found.status == "unpaid") == (
        found.amount_paid <= 0 and not any(a < 0 for a in amounts)
    )


def test_invoice_settings_read_values_and_name_bad_ones() -> None:
    read = InvoiceSettings.from_values(
        {"invoice_send": True, "won_stages": ["Signed"], "payment_status": {"unpaid": "Open"}}
    )
    assert (read.send, read.won_stages, read.unpaid) == (True, frozenset({"Signed"}), "Open")
    assert read.is_won({"Opportunity": {"IsWon": False, "StageName": "Signed"}})
    assert not read.is_won({"Opportunity": {"IsWon": False, "StageName": "Prospecting"}})
    with pytest.raises(ConfigError, match=r"values\.yaml: invoice_send must be true or false"):
        InvoiceSettings.from_values({"invoice_send": "yes"})
    with pytest.raises(ConfigError, match="invoice_url must be a text containing"):
        InvoiceSettings.from_values({"invoice_url": "https://example.com/"})


def test_invoice_change_policies_default_and_name_bad_ones() -> None:
    default = InvoiceSettings.from_values({})
    assert (default.draft_changes, default.deleted_deal) == ("update", "review")
    read = InvoiceSettings.from_values(
        {"invoice_draft_changes": "review", "invoice_deleted_deal": "ignore"}
    )
    assert (read.draft_changes, read.deleted_deal) == ("review", "ignore")
    with pytest.raises(ConfigError, match="invoice_draft_changes must be update or review"):
        InvoiceSettings.from_values({"invoice_draft_changes": "delete"})
    with pytest.raises(ConfigError, match="invoice_deleted_deal must be review or ignore"):
        InvoiceSettings.from_values({"invoice_deleted_deal": "void"})
