"""FreshBooks callbacks and signed webhook delivery, received by a real HTTP server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse

from conftest import FreshBooks, Receiver


def form_of(body: bytes) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(body.decode()))


def signature(verifier: str, form: dict[str, str]) -> str:
    """The reference signer (reference §8.3), written here independently of the sandbox."""
    digest = hmac.new(verifier.encode(), json.dumps(form).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def callbacks_url(fb: FreshBooks, suffix: str = "") -> str:
    return f"/events/account/{fb.account}/events/callbacks{suffix}"


async def drain(fb: FreshBooks) -> None:
    drained = await fb.http.post("/_sandbox/deliveries/drain", params={"wait_seconds": 5})
    assert drained.json()["drained"] is True


async def register(fb: FreshBooks, receiver: Receiver, event: str = "invoice") -> tuple[int, str]:
    """Create a callback, read the verifier the receiver got, verify; return (id, verifier)."""
    made = await fb.http.post(
        callbacks_url(fb),
        json={"callback": {"event": event, "uri": receiver.url}},
        headers=fb.auth(),
    )
    assert made.status_code == 200, made.text
    callback = made.json()["response"]["result"]["callback"]
    assert callback["verified"] is False
    assert callback["id"] == callback["callbackid"]
    await drain(fb)
    form = form_of(receiver.bodies()[-1])
    verifier = form["verifier"]
    verified = await fb.http.put(
        callbacks_url(fb, f"/{callback['id']}"),
        json={"callback": {"verifier": verifier}},
        headers=fb.auth(),
    )
    assert verified.json()["response"]["result"]["callback"]["verified"] is True
    receiver.received.clear()
    return callback["id"], verifier


async def new_invoice(fb: FreshBooks) -> dict:
    client = await fb.create("users/clients", "client", {"organization": "Hooked"})
    lines = [{"name": "x", "qty": 1, "unit_cost": {"amount": "10.00"}}]
    return await fb.create(
        "invoices/invoices", "invoice", {"customerid": client["id"], "lines": lines}
    )


async def test_verification_handshake_then_signed_events(
    fb: FreshBooks, receiver: Receiver
) -> None:
    made = await fb.http.post(
        callbacks_url(fb),
        json={"callback": {"event": "invoice", "uri": receiver.url}},
        headers=fb.auth(),
    )
    callback_id = made.json()["response"]["result"]["callback"]["callbackid"]
    await new_invoice(fb)  # before verification: nothing but the verifier is sent
    await drain(fb)
    assert len(receiver.received) == 1
    verify = receiver.received[0]
    form = form_of(verify.body)
    assert list(form) == ["name", "object_id", "verifier", "account_id", "user_id"]
    assert (form["name"], form["object_id"]) == ("callback.verify", str(callback_id))
    assert verify.headers["X-FreshBooks-Hmac-SHA256"] == signature(form["verifier"], form)
    wrong = await fb.http.put(
        callbacks_url(fb, f"/{callback_id}"),
        json={"callback": {"verifier": "nope"}},
        headers=fb.auth(),
    )
    assert (wrong.status_code, wrong.json()["errno"]) == (400, 422)
    await fb.http.put(
        callbacks_url(fb, f"/{callback_id}"),
        json={"callback": {"verifier": form["verifier"]}},
        headers=fb.auth(),
    )
    receiver.received.clear()

    invoice = await new_invoice(fb)
    await fb.create(
        "payments/payments", "payment", {"invoiceid": invoice["id"], "amount": {"amount": "10.00"}}
    )
    await drain(fb)
    forms = [form_of(r.body) for r in receiver.received]
    assert [f["name"] for f in forms] == ["invoice.create", "invoice.update"]
    first = forms[0]
    assert list(first) == [
        "name",
        "object_id",
        "account_id",
        "business_id",
        "identity_id",
        "user_id",
    ]
    assert first == {
        "name": "invoice.create",
        "object_id": str(invoice["id"]),
        "account_id": fb.account,
        "business_id": "77001",
        "identity_id": "1001",
        "user_id": "1001",
    }
    for received in receiver.received:
        expected = signature(form["verifier"], form_of(received.body))
        assert received.headers["X-FreshBooks-Hmac-SHA256"] == expected
        assert received.headers["Content-Type"] == "application/x-www-form-urlencoded"


async def test_exact_event_filter(fb: FreshBooks, receiver: Receiver) -> None:
    await register(fb, receiver, event="client.update")
    client = await fb.create("users/clients", "client", {"organization": "A"})
    await fb.update(f"users/clients/{client['id']}", "client", {"organization": "B"})
    await fb.update(f"users/clients/{client['id']}", "client", {"vis_state": 1})
    await drain(fb)
    assert [form_of(b)["name"] for b in receiver.bodies()] == ["client.update"]


async def test_retry_after_a_failed_delivery(fb: FreshBooks, receiver: Receiver) -> None:
    await register(fb, receiver)
    receiver.statuses.extend([500, 502])
    invoice = await new_invoice(fb)
    await drain(fb)
    assert [form_of(b)["object_id"] for b in receiver.bodies()] == [str(invoice["id"])] * 3
    log = (await fb.http.get("/_sandbox/deliveries", params={"event": "invoice.create"})).json()
    assert [(a["attempt"], a["outcome"], a["status"]) for a in log["attempts"]] == [
        (1, "failed", 500),
        (2, "failed", 502),
        (3, "delivered", 200),
    ]


async def test_lossy_duplicated_and_reordered_modes(fb: FreshBooks, receiver: Receiver) -> None:
    await register(fb, receiver, event="client.create")
    await fb.http.put("/_sandbox/deliveries/mode", json={"lossy": 1.0})
    await fb.create("users/clients", "client", {"organization": "lost"})
    await drain(fb)
    assert receiver.bodies() == []
    log = (await fb.http.get("/_sandbox/deliveries", params={"event": "client.create"})).json()
    assert [a["outcome"] for a in log["attempts"]] == ["dropped"]

    await fb.http.put("/_sandbox/deliveries/mode", json={"duplicate": 1.0})
    twice = await fb.create("users/clients", "client", {"organization": "twice"})
    await drain(fb)
    assert [form_of(b)["object_id"] for b in receiver.bodies()] == [str(twice["id"])] * 2

    receiver.received.clear()
    await fb.http.put("/_sandbox/deliveries/mode", json={"reorder_seconds": 1.0})
    made = [await fb.create("users/clients", "client", {"organization": f"o{n}"}) for n in range(8)]
    await drain(fb)
    got = [int(form_of(b)["object_id"]) for b in receiver.bodies()]
    assert sorted(got) == [c["id"] for c in made]
    assert got != [c["id"] for c in made]


async def test_callback_crud_and_errors(fb: FreshBooks, receiver: Receiver) -> None:
    for event in ("invoice.create", "client", "payment.delete"):
        await fb.http.post(
            callbacks_url(fb),
            json={"callback": {"event": event, "uri": receiver.url}},
            headers=fb.auth(),
        )
    listed = await fb.http.get(callbacks_url(fb), params={"per_page": 2}, headers=fb.auth())
    result = listed.json()["response"]["result"]
    assert (result["total"], result["pages"], len(result["callbacks"])) == (3, 2, 2)
    only = await fb.http.get(
        callbacks_url(fb), params={"search[event]": "client"}, headers=fb.auth()
    )
    callback = only.json()["response"]["result"]["callbacks"][0]
    assert set(callback) == {"callbackid", "id", "event", "uri", "verified", "updated_at"}

    bad = await fb.http.post(
        callbacks_url(fb), json={"callback": {"event": "nope", "uri": "x"}}, headers=fb.auth()
    )
    assert bad.status_code == 400
    assert bad.json() == {
        "errno": 422,
        "message": (
            "The request was well-formed but was unable to be followed due to semantic errors."
        ),
        "details": [
            "event: Value error, Unrecognized event.",
            "uri: Input should be a valid URL, relative URL without a base",
        ],
    }
    await drain(fb)
    receiver.received.clear()
    resend = await fb.http.put(
        callbacks_url(fb, f"/{callback['id']}"),
        json={"callback": {"resend": True}},
        headers=fb.auth(),
    )
    assert resend.status_code == 200
    await drain(fb)
    assert form_of(receiver.bodies()[0])["name"] == "callback.verify"
    moved = await fb.http.put(
        callbacks_url(fb, f"/{callback['id']}"),
        json={"callback": {"event": "client.create"}},
        headers=fb.auth(),
    )
    assert moved.json()["response"]["result"]["callback"]["event"] == "client.create"
    gone = await fb.http.delete(callbacks_url(fb, f"/{callback['id']}"), headers=fb.auth())
    assert (gone.status_code, gone.content) == (204, b"")
    missing = await fb.http.get(callbacks_url(fb, f"/{callback['id']}"), headers=fb.auth())
    assert missing.status_code == 404
    assert missing.json() == {"errno": 404, "message": "Requested resource could not be found."}


async def test_emailing_an_invoice_sends_send_by_email(fb: FreshBooks, receiver: Receiver) -> None:
    await register(fb, receiver, event="invoice.sendByEmail")
    invoice = await new_invoice(fb)
    emailed = await fb.update(
        f"invoices/invoices/{invoice['id']}",
        "invoice",
        {"action_email": True, "email_recipients": ["a@b.test"]},
    )
    assert emailed["v3_status"] == "sent"
    await drain(fb)
    assert [form_of(b)["name"] for b in receiver.bodies()] == ["invoice.sendByEmail"]
