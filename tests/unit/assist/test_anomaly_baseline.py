"""The anomaly rules on learned observations: each finding holds or flags, in one sentence."""

from __future__ import annotations

from decimal import Decimal

from freshforce.assist.baseline import judge
from freshforce.engine.guard import Guarded, PlannedWrite
from freshforce.store.anomalies import Observed

HISTORY = [Observed("42", "amount", v, None) for v in (1200.0, 1270.0, 1310.0, 1250.0, 1400.0)]
HISTORY += [Observed("42", "currency", None, "CAD")]


def _write(amount: str, currency: str = "CAD", group: str = "42") -> PlannedWrite:
    return PlannedWrite(
        "t", "invoices", "k", group, {"amount": Decimal(amount)}, {"currency": currency}
    )


def test_an_ordinary_amount_proceeds() -> None:
    assert judge(_write("1330.00"), HISTORY).action is Guarded.PROCEED


def test_a_decimal_shift_is_held_and_says_so() -> None:
    verdict = judge(_write("127000.00"), HISTORY)
    assert verdict.held
    assert verdict.reasons == (
        "amount 127,000.00 CAD looks like 1,270.00 with the decimal point moved (x100)",
    )


def test_a_far_amount_is_held_with_its_ratio_and_z() -> None:
    verdict = judge(_write("12430.50"), HISTORY)
    assert verdict.held
    assert verdict.reasons[0].startswith("amount 12,430.50 CAD is 9.8x this client's median of")
    assert "(z " in verdict.reasons[0]


def test_a_moderate_outlier_is_flagged_not_held() -> None:
    verdict = judge(_write("2000.00"), HISTORY)
    assert verdict.action is Guarded.FLAG


def test_a_currency_swap_and_a_non_positive_amount_are_held() -> None:
    assert judge(_write("1300.00", currency="USD"), HISTORY).reasons == (
        "currency USD differs from this client's CAD",
    )
    assert judge(_write("0"), HISTORY).reasons == ("amount 0.00 CAD is not positive",)


def test_a_new_client_is_judged_against_the_flow() -> None:
    verdict = judge(_write("60000.00", group="new"), HISTORY)
    assert verdict.held
    assert "the flow's median" in verdict.reasons[0]
    assert judge(_write("60000.00", group="new"), HISTORY[:2]).action is Guarded.PROCEED


def test_a_value_never_seen_for_a_picklist_like_label_is_flagged() -> None:
    seen = [Observed(str(n), "method", None, ("Cash", "Check")[n % 2]) for n in range(30)]
    write = PlannedWrite("t", "payments", "k", "99", {}, {"method": "Bitcoin"})
    verdict = judge(write, seen)
    assert verdict.action is Guarded.FLAG
    assert verdict.reasons == ("method 'Bitcoin' was never seen before in this flow",)
