"""The sandbox packages' public surface, and their independence from the engine."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from freshforce.sandbox import core, freshbooks
from freshforce.sandbox.freshbooks.invoices import status_of, totals_of
from freshforce.sandbox.freshbooks.webhooks import sign

SANDBOX = Path(core.__file__).parents[1]
FORBIDDEN = ("freshforce.engine", "freshforce.store", "freshforce.connectors", "freshforce.flows")


def test_core_exports_are_pinned() -> None:
    assert core.__all__ == [
        "Caller",
        "DeliveryAttempt",
        "DeliveryLog",
        "DeliveryMode",
        "DeliveryQueue",
        "DeliveryRetryPolicy",
        "DroppedConnectionError",
        "FaultKind",
        "FaultMiddleware",
        "FaultRenderer",
        "FaultResponse",
        "FaultRule",
        "FaultSet",
        "LoggedRequest",
        "Outgoing",
        "RequestLog",
        "RequestLogMiddleware",
        "SandboxClock",
        "SandboxControl",
        "SandboxRuntime",
        "SandboxServer",
        "SandboxUser",
        "TlsFiles",
        "UserDirectory",
        "admin_router",
        "attribute_request",
        "generate_certificate",
        "install",
        "redact_body",
        "split_name",
    ]
    assert all(hasattr(core, name) for name in core.__all__)


def test_freshbooks_exports_are_pinned() -> None:
    assert freshbooks.__all__ == [
        "DEFAULT_APP",
        "DEFAULT_IDENTITY",
        "FreshBooksOptions",
        "FreshBooksSandbox",
        "FreshBooksState",
        "build_freshbooks",
        "sign",
    ]


def test_sandbox_imports_nothing_from_the_engine_side() -> None:
    offenders = []
    for path in SANDBOX.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.startswith(FORBIDDEN)]
    assert offenders == []


def test_reference_fixture_totals() -> None:
    lines = [
        {"qty": "4", "unit_cost": {"amount": "5.00"}, "taxAmount1": "13"},
        {"qty": "6", "unit_cost": {"amount": "4.00"}},
    ]
    totals = totals_of(lines, "10")
    assert (totals.amount, totals.discount_total, totals.tax_total) == (
        Decimal("41.94"),
        Decimal("-4.40"),
        Decimal("2.34"),
    )


def test_compound_tax_applies_on_top_of_the_first() -> None:
    line = {
        "qty": "1",
        "unit_cost": {"amount": "100.00"},
        "taxAmount1": "10",
        "taxAmount2": "10",
        "compounded_tax": True,
    }
    assert totals_of([line], "0").amount == Decimal("121.00")
    assert totals_of([{**line, "compounded_tax": False}], "0").amount == Decimal("120.00")


cents = st.decimals(min_value=0, max_value=10**7, places=2)


@given(amount=cents, paid=cents, sent=st.booleans())
def test_status_money_always_adds_up(amount: Decimal, paid: Decimal, sent: bool) -> None:
    state = status_of(amount, paid, sent)
    assert state.outstanding >= 0
    assert state.paid == paid
    assert state.outstanding == max(amount - paid, 0)
    if paid == 0:
        assert state.status == (2 if sent else 1)
    elif paid < amount:
        assert (state.status, state.payment_status) == (8, "partial")
    else:
        assert (state.status, state.payment_status) == (4, "paid")


def test_signature_matches_the_documented_recipe() -> None:
    # The last value was computed once with the reference §8.3 signer, outside the sandbox.
    form = {"name": "invoice.create", "object_id": "1234567", "account_id": "6BApk"}
    assert sign("s3cret", form) == sign("s3cret", dict(form))
    assert sign("s3cret", form) != sign("other", form)
    assert sign("k", {"a": "1"}) == "rX+KvPA9BJta9ElORbl98oJLvUfwUdEwPnoKI2b59fM="
