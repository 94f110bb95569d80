"""Comparing what a deal would invoice with the invoice as FreshBooks has it."""

from __future__ import annotations

from freshforce.flows.invoice_changes import content_of

BODY = {
    "customerid": 42,
    "create_date": "2026-11-30",
    "currency_code": "USD",
    "po_number": "0068d0000000001AAA",
    "lines": [{"name": "Anvil", "qty": "3.00", "unit_cost": {"amount": "100.00", "code": "USD"}}],
}
STORED = {
    "id": 7,
    "customerid": 42,
    "create_date": "2026-11-30",
    "currency_code": "USD",
    "po_number": "0068d0000000001AAA",
    "status": 2,
    "lines": [
        {"lineid": 1, "name": "Anvil", "qty": "3", "taxName1": "",
         "unit_cost": {"amount": "100.0", "code": "USD"}},
    ],
}  # fmt: skip


def test_the_same_content_in_other_spellings_is_equal() -> None:
    wanted, current = content_of(BODY, STORED)
    assert wanted == current
    assert "po_number" not in wanted


def test_a_changed_quantity_date_or_extra_line_differs() -> None:
    more = {**BODY, "lines": [*BODY["lines"], {"name": "Hammer", "qty": "1"}]}  # type: ignore[list-item]
    for body in ({**BODY, "create_date": "2026-12-15"}, more):
        wanted, current = content_of(body, STORED)
        assert wanted != current
    line = {**STORED["lines"][0], "qty": "5"}  # type: ignore[index]
    wanted, current = content_of(BODY, {**STORED, "lines": [line]})
    assert (wanted["lines"][0]["qty"], current["lines"][0]["qty"]) == ("3", "5")
