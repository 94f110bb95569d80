"""The unmodified FreshBooks Python SDK against the sandbox over a real socket (reference §10)."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Iterator

import httpx
import pytest
from freshbooks import Client, FilterBuilder, IncludesBuilder, PaginateBuilder
from freshbooks.errors import FreshBooksError

from conftest import Receiver, build_app
from freshforce.sandbox.core import SandboxServer


@pytest.fixture
def served() -> Iterator[str]:
    built = build_app(records=3)
    server = SandboxServer(built.app)
    server.start_in_thread()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def sdk(served: str, monkeypatch: pytest.MonkeyPatch) -> Client:
    monkeypatch.setenv("FRESHBOOKS_API_URL", served)
    monkeypatch.setenv("FRESHBOOKS_AUTH_URL", served)
    tokens = httpx.post(f"{served}/_sandbox/tokens", json={}).json()
    return Client(
        client_id="freshforce-sandbox",
        client_secret="sandbox-secret",
        redirect_uri="https://localhost/cb",
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
    )


def wait_for(receiver: Receiver, count: int) -> list[dict[str, str]]:
    deadline = time.monotonic() + 5
    while len(receiver.bodies()) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return [dict(urllib.parse.parse_qsl(b.decode())) for b in receiver.bodies()]


def test_identity_clients_invoices_payments(sdk: Client) -> None:
    me = sdk.current_user()
    account = me.business_memberships[0].business.account_id
    assert account == "SBX7QK"
    seeded = sdk.clients.list(account, builders=[PaginateBuilder(1, 100)])
    assert seeded.pages.total == 3

    client = sdk.clients.create(
        account,
        {"fname": "Ada", "lname": "Lovelace", "organization": "Engines Ltd", "email": "ada@e.test"},
    )
    found = sdk.clients.list(
        account, builders=[FilterBuilder().like("organization_like", "engines")]
    )
    assert [c.id for c in found] == [client.id]
    renamed = sdk.clients.update(account, client.id, {"organization": "Analytical Engines"})
    assert renamed.organization == "Analytical Engines"
    assert sdk.clients.get(account, client.id).organization == "Analytical Engines"

    lines = [
        {
            "name": "Design",
            "qty": 4,
            "unit_cost": {"amount": "5.00", "code": "USD"},
            "taxName1": "HST",
            "taxAmount1": "13",
        },
        {"name": "Build", "qty": 6, "unit_cost": {"amount": "4.00", "code": "USD"}},
    ]
    invoice = sdk.invoices.create(
        account, {"customerid": client.id, "discount_value": "10", "lines": lines}
    )
    assert invoice.amount.amount == "41.94"
    assert invoice.v3_status == "draft"
    sent = sdk.invoices.update(account, invoice.id, {"action_mark_as_sent": True})
    assert sent.v3_status == "sent"
    listed = sdk.invoices.list(
        account,
        builders=[
            IncludesBuilder().include("lines"),
            FilterBuilder().in_list("customerid", [client.id]),
        ],
    )
    assert [len(i.lines) for i in listed] == [2]

    payment = sdk.payments.create(
        account, {"invoiceid": invoice.id, "amount": {"amount": "41.94"}, "type": "Check"}
    )
    assert payment.clientid == client.id
    paid = sdk.invoices.get(account, invoice.id)
    assert (paid.v3_status, paid.payment_status, paid.outstanding.amount) == (
        "paid",
        "paid",
        "0.00",
    )

    deleted = sdk.clients.delete(account, client.id)
    assert deleted.vis_state == 1
    with pytest.raises(FreshBooksError) as missing:
        sdk.clients.get(account, 424242)
    assert (missing.value.status_code, missing.value.error_code) == (404, 1012)


def test_refresh_tokens_rotate_and_are_single_use(sdk: Client) -> None:
    first_refresh = sdk.refresh_token
    sdk.refresh_access_token()
    assert sdk.refresh_token != first_refresh
    assert sdk.current_user().email
    with pytest.raises(FreshBooksError) as used:
        sdk.refresh_access_token(first_refresh)
    assert used.value.status_code == 400


def test_callbacks_through_the_sdk(sdk: Client, receiver: Receiver) -> None:
    account = sdk.current_user().business_memberships[0].business.account_id
    callback = sdk.callbacks.create(account, {"event": "client.create", "uri": receiver.url})
    assert callback.verified is False
    verifier = wait_for(receiver, 1)[0]["verifier"]
    assert sdk.callbacks.verify(account, callback.callbackid, verifier).verified is True
    sdk.callbacks.resend_verification(account, callback.callbackid)
    wait_for(receiver, 2)
    created = sdk.clients.create(account, {"email": "hook@e.test"})
    forms = wait_for(receiver, 3)
    assert forms[2]["name"] == "client.create"
    assert forms[2]["object_id"] == str(created.id)
    assert [c.callbackid for c in sdk.callbacks.list(account)] == [callback.callbackid]
    sdk.callbacks.delete(account, callback.callbackid)
    assert list(sdk.callbacks.list(account)) == []
