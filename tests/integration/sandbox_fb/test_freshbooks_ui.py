"""A person in the FreshBooks UI, silent edits and seeds: seen through the API and webhooks."""

from __future__ import annotations

from typing import Any

import httpx
from test_freshbooks_webhooks import drain, form_of, register

from conftest import FreshBooks, Receiver
from freshforce.sandbox.core import SandboxRuntime
from freshforce.sandbox.salesforce.build import build_salesforce_sandbox

UI = "/_sandbox/freshbooks/ui"


async def events(fb: FreshBooks, receiver: Receiver) -> list[tuple[str, str]]:
    """Drain deliveries; return (name, object_id) of every webhook received since last time."""
    await drain(fb)
    received = [form_of(body) for body in receiver.bodies()]
    receiver.received.clear()
    return [(f["name"], f["object_id"]) for f in received]


async def invoice_of(fb: FreshBooks, amount: str = "100.00") -> dict[str, Any]:
    client = await fb.create("users/clients", "client", {"organization": "Initech"})
    lines = [{"name": "Work", "qty": 1, "unit_cost": {"amount": amount, "code": "USD"}}]
    return await fb.create(
        "invoices/invoices",
        "invoice",
        {"customerid": client["id"], "currency_code": "USD", "lines": lines},
    )


async def post(fb: FreshBooks, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await fb.http.post(path, json=body or {})
    assert response.status_code in {200, 201}, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_archive_restore_and_delete_send_the_products_webhooks(
    fb: FreshBooks, receiver: Receiver
) -> None:
    invoice = await invoice_of(fb)
    client_id, invoice_id = str(invoice["customerid"]), str(invoice["id"])
    await register(fb, receiver, "client")
    await register(fb, receiver, "invoice")

    await post(fb, f"{UI}/clients/{client_id}/archive")
    archived = await fb.get(f"users/clients/{client_id}")
    await post(fb, f"{UI}/clients/{client_id}/restore")
    await post(fb, f"{UI}/invoices/{invoice_id}/delete")
    hidden = await fb.get("invoices/invoices")

    assert archived["client"]["vis_state"] == 2
    assert (await fb.get(f"users/clients/{client_id}"))["client"]["vis_state"] == 0
    assert hidden["invoices"] == []
    assert await events(fb, receiver) == [
        ("client.update", client_id),
        ("client.update", client_id),
        ("invoice.delete", invoice_id),
    ]


async def test_recording_payments_and_sending_move_the_invoice_and_tell_webhooks(
    fb: FreshBooks, receiver: Receiver
) -> None:
    invoice = await invoice_of(fb)
    invoice_id = str(invoice["id"])
    await register(fb, receiver, "invoice")
    await register(fb, receiver, "payment")

    sent = await post(fb, f"{UI}/invoices/{invoice_id}/send", {"email": True})
    paid = await post(
        fb, f"{UI}/invoices/{invoice_id}/payments", {"amount": "30.00", "date": "2024-05-01"}
    )
    shown = (await fb.get(f"invoices/invoices/{invoice_id}"))["invoice"]

    assert sent["invoice"]["v3_status"] == "sent"
    assert paid["payment"]["amount"] == {"amount": "30.00", "code": "USD"}
    assert (shown["v3_status"], shown["status"]) == ("partial", 8)
    assert shown["outstanding"] == {"amount": "70.00", "code": "USD"}
    payment_id = str(paid["payment"]["id"])
    assert await events(fb, receiver) == [
        ("invoice.sendByEmail", invoice_id),
        ("invoice.update", invoice_id),
        ("invoice.update", invoice_id),
        ("payment.create", payment_id),
    ]
    logged = (await fb.http.get("/_sandbox/requests", params={"path": "/_sandbox"})).json()
    assert logged == {"requests": []}  # what a person does is not an API request


async def test_a_silent_edit_sends_nothing_and_keeps_updated(
    fb: FreshBooks, receiver: Receiver
) -> None:
    invoice = await invoice_of(fb)
    payment = await fb.create(
        "payments/payments", "payment", {"invoiceid": invoice["id"], "amount": "40.00"}
    )
    await register(fb, receiver, "invoice")
    await register(fb, receiver, "payment")
    before = (await fb.get(f"invoices/invoices/{invoice['id']}"))["invoice"]
    await fb.http.post("/_sandbox/clock/advance", json={"seconds": 3600})

    await post(
        fb,
        "/_sandbox/freshbooks/silent",
        {"resource": "payments", "id": payment["id"], "fields": {"amount": "100.00"}},
    )
    quiet = (await fb.get(f"invoices/invoices/{invoice['id']}"))["invoice"]
    await post(
        fb,
        "/_sandbox/freshbooks/silent",
        {"resource": "invoices", "id": invoice["id"], "fields": {"notes": "n"}, "touch": True},
    )
    touched = (await fb.get(f"invoices/invoices/{invoice['id']}"))["invoice"]

    assert await events(fb, receiver) == []
    assert quiet["v3_status"] == "paid"
    assert quiet["outstanding"]["amount"] == "0.00"
    assert quiet["updated"] == before["updated"]
    assert touched["notes"] == "n"
    assert touched["updated"] > before["updated"]
    updated_min = (await fb.get("payments/payments"))["payments"][0]["updated"][:10]
    polled = await fb.get("invoices/invoices", **{"search[updated_min]": updated_min})
    assert [i["id"] for i in polled["invoices"]] == [invoice["id"]]


async def test_seeded_refunds_and_foreign_payments_follow_the_invoice_rules(
    fb: FreshBooks, receiver: Receiver
) -> None:
    await register(fb, receiver, "invoice")
    await register(fb, receiver, "payment")
    seeded_clients = await post(
        fb,
        "/_sandbox/freshbooks/records",
        {
            "resource": "clients",
            "records": [
                {
                    "fields": {"organization": "Old Co"},
                    "created": "2023-01-02T03:04:05Z",
                    "updated": "2023-06-01T12:00:00Z",
                }
            ],
        },
    )
    (client_id,) = seeded_clients["ids"]
    lines = [{"name": "Work", "qty": 1, "unit_cost": {"amount": "100.00"}}]
    seeded_invoice = await post(
        fb,
        "/_sandbox/freshbooks/records",
        {
            "resource": "invoices",
            "records": [
                {
                    "fields": {"customerid": client_id, "currency_code": "USD", "lines": lines},
                    "created": "2023-02-01T15:00:00Z",
                    "owner": 7,
                }
            ],
        },
    )
    (invoice_id,) = seeded_invoice["ids"]

    async def pay(amount: str, code: str) -> dict[str, Any]:
        body = {"invoiceid": invoice_id, "amount": {"amount": amount, "code": code}}
        await post(
            fb,
            "/_sandbox/freshbooks/records",
            {"resource": "payments", "records": [{"fields": body}]},
        )
        invoice: dict[str, Any] = (await fb.get(f"invoices/invoices/{invoice_id}"))["invoice"]
        return invoice

    paid = await pay("100.00", "USD")
    foreign = await pay("50.00", "EUR")
    refunded = await pay("-40.00", "USD")
    over_refunded = await pay("-100.00", "USD")

    client = (await fb.get(f"users/clients/{client_id}"))["client"]
    assert (client["signup_date"], client["updated"]) == (
        "2023-01-02 03:04:05",
        "2023-06-01 08:00:00",  # US/Eastern
    )
    invoice = (await fb.get(f"invoices/invoices/{invoice_id}"))["invoice"]
    assert invoice["created_at"] == "2023-02-01 10:00:00"
    assert invoice["ownerid"] == 7
    assert (paid["v3_status"], paid["outstanding"]["amount"]) == ("paid", "0.00")
    assert foreign["paid"] == {"amount": "100.00", "code": "USD"}  # EUR does not count
    assert (refunded["v3_status"], refunded["paid"]["amount"]) == ("partial", "60.00")
    assert refunded["outstanding"]["amount"] == "40.00"
    assert over_refunded["status"] == 1
    assert over_refunded["paid"]["amount"] == "-40.00"
    assert over_refunded["outstanding"]["amount"] == "100.00"
    payments = (await fb.get("payments/payments", per_page=10))["payments"]
    assert sorted(p["amount"]["amount"] for p in payments) == [
        "-100.00",
        "-40.00",
        "100.00",
        "50.00",
    ]
    assert await events(fb, receiver) == []  # seeding is silent


async def test_bad_ui_requests_say_what_is_wrong(fb: FreshBooks) -> None:
    missing = await fb.http.post(f"{UI}/clients/999999/archive")
    not_money = await fb.http.post(f"{UI}/invoices/1/payments", json={"amount": "ten"})
    owner = await fb.http.post(
        "/_sandbox/freshbooks/records",
        json={"resource": "clients", "records": [{"fields": {"email": "a@b.c"}, "owner": 1}]},
    )

    assert missing.status_code == 404
    assert "Client not found" in missing.text
    assert not_money.status_code in {400, 422}
    assert "amount" in not_money.text
    assert owner.status_code == 422
    assert "owner" in owner.text


async def test_each_server_has_its_own_clock(fb: FreshBooks) -> None:
    runtime = SandboxRuntime.create(seed=1)
    salesforce = build_salesforce_sandbox(runtime, seed=1)
    transport = httpx.ASGITransport(app=salesforce.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://sf.test") as sf:
        await fb.http.put("/_sandbox/clock", json={"offset_seconds": 90})
        await sf.put("/_sandbox/clock", json={"offset_seconds": -30})
        await fb.http.post("/_sandbox/clock/advance", json={"seconds": 10})
        fb_clock = (await fb.http.get("/_sandbox/clock")).json()
        sf_clock = (await sf.get("/_sandbox/clock")).json()
    await runtime.aclose()

    assert fb_clock["offset_seconds"] == 100
    assert sf_clock["offset_seconds"] == -30
    client = await fb.create("users/clients", "client", {"organization": "Skewed"})
    assert client["signup_date"] >= fb_clock["now"][:19].replace("T", " ")


async def test_request_log_names_the_user_and_hides_the_token(fb: FreshBooks) -> None:
    await fb.create("users/clients", "client", {"organization": "Logged"})

    mine = (await fb.http.get("/_sandbox/requests", params={"user": "1001"})).json()["requests"]
    others = (await fb.http.get("/_sandbox/requests", params={"user": "42"})).json()["requests"]
    await fb.http.post("/_sandbox/reset")
    cleared = (await fb.http.get("/_sandbox/requests")).json()["requests"]

    (entry,) = mine
    assert (entry["method"], entry["status"]) == ("POST", 200)
    assert entry["path"].endswith("/users/clients")
    assert entry["headers"]["authorization"] == "Bearer ***"
    assert fb.token not in str(entry)
    assert '"organization":"Logged"' in entry["request_body"].replace(" ", "")
    assert others == []
    assert cleared == []
