"""Several users in the FreshBooks sandbox: who wrote what, faults and delivery modes per party."""

from __future__ import annotations

import urllib.parse
from typing import Any

import httpx

from conftest import FreshBooks, Receiver

TESTER = {"name": "tester", "email": "tess@example.test", "role": "business_employee"}
INTEGRATION = {"name": "integration", "email": "sync@example.test", "role": "business_admin"}


async def add_user(fb: FreshBooks, body: dict[str, str]) -> dict[str, Any]:
    response = await fb.http.post("/_sandbox/users", json=body)
    assert response.status_code == 201, response.text
    user: dict[str, Any] = response.json()
    return user


async def token_for(fb: FreshBooks, user: str, client: str | None = None) -> str:
    response = await fb.http.post("/_sandbox/tokens", json={"user": user, "client": client})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def write(
    fb: FreshBooks, token: str, method: str, path: str, payload: dict[str, Any]
) -> httpx.Response:
    """Send ``payload`` (``{"client": {...}}``) as the holder of ``token``."""
    return await fb.http.request(method, fb.url(path), json=payload, headers=fb.auth(token))


async def two_parties(fb: FreshBooks) -> tuple[dict[str, Any], dict[str, Any], str, str]:
    """Add the tester and the integration user; return both and a token each."""
    tester = await add_user(fb, TESTER)
    integration = await add_user(fb, INTEGRATION)
    person = await token_for(fb, "tester", client="freshbooks-web")
    ours = await token_for(fb, "sync@example.test")
    return tester, integration, person, ours


def form_of(body: bytes) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(body.decode()))


async def drain(fb: FreshBooks) -> None:
    drained = await fb.http.post("/_sandbox/deliveries/drain", params={"wait_seconds": 5})
    assert drained.json()["drained"] is True


async def register(fb: FreshBooks, receiver: Receiver, event: str, suffix: str) -> int:
    """Create and verify a callback posting to ``receiver.url + suffix``; return its id."""
    base = f"/events/account/{fb.account}/events/callbacks"
    made = await fb.http.post(
        base,
        json={"callback": {"event": event, "uri": receiver.url + suffix}},
        headers=fb.auth(),
    )
    callback_id = int(made.json()["response"]["result"]["callback"]["id"])
    await drain(fb)
    verifier = form_of(receiver.bodies()[-1])["verifier"]
    verified = await fb.http.put(
        f"{base}/{callback_id}", json={"callback": {"verifier": verifier}}, headers=fb.auth()
    )
    assert verified.status_code == 200, verified.text
    with receiver.lock:
        receiver.received.clear()
    return callback_id


async def test_two_users_editing_one_invoice_show_as_two_users(
    fb: FreshBooks, receiver: Receiver
) -> None:
    await register(fb, receiver, "invoice", "")
    tester, integration, person, ours = await two_parties(fb)
    await fb.http.delete("/_sandbox/requests")

    client = await write(fb, person, "POST", "users/clients", {"client": {"organization": "Acme"}})
    lines = [{"name": "Work", "qty": 1, "unit_cost": {"amount": "10.00"}}]
    made = await write(
        fb,
        person,
        "POST",
        "invoices/invoices",
        {
            "invoice": {
                "customerid": client.json()["response"]["result"]["client"]["id"],
                "lines": lines,
            }
        },
    )
    invoice_id = made.json()["response"]["result"]["invoice"]["id"]
    one = f"invoices/invoices/{invoice_id}"
    await write(fb, ours, "PUT", one, {"invoice": {"notes": "synced"}})
    await write(fb, ours, "PUT", one, {"invoice": {"action_mark_as_sent": True}})
    await fb.http.get(fb.url(one), headers=fb.auth(person))
    await drain(fb)

    writes = (await fb.http.get("/_sandbox/requests", params={"method": "writes"})).json()
    seen = [(e["method"], e["user"], e["user_name"], e["client"]) for e in writes["requests"]]
    assert seen == [
        ("POST", tester["id"], "tester", "freshbooks-web"),
        ("POST", tester["id"], "tester", "freshbooks-web"),
        ("PUT", integration["id"], "integration", "freshforce-sandbox"),
        ("PUT", integration["id"], "integration", "freshforce-sandbox"),
    ]
    by_email = await fb.http.get("/_sandbox/requests", params={"user": TESTER["email"]})
    assert [e["method"] for e in by_email.json()["requests"]] == ["POST", "POST", "GET"]
    puts = await fb.http.get("/_sandbox/requests", params={"user": "tester", "method": "PUT"})
    assert puts.json() == {"requests": []}

    invoice = (await fb.get(one))["invoice"]
    assert (invoice["ownerid"], invoice["sentid"]) == (2, 3)  # the owner is userid 1
    hooks = [form_of(b) for b in receiver.bodies()]
    assert [(h["name"], h["identity_id"]) for h in hooks] == [
        ("invoice.create", tester["id"]),
        ("invoice.update", integration["id"]),
        ("invoice.update", integration["id"]),
    ]


async def test_a_fault_aimed_at_one_user_never_hits_the_other(fb: FreshBooks) -> None:
    _, integration, person, ours = await two_parties(fb)
    rule = await fb.http.post(
        "/_sandbox/faults",
        json={"kind": "error", "status": 503, "path": "/accounting/*", "user": "integration"},
    )
    assert rule.status_code == 201, rule.text
    assert rule.json()["user"] == integration["id"]

    mine = [
        (await write(fb, person, "POST", "users/clients", {"client": {"email": f"p{n}@x.test"}}))
        for n in range(6)
    ]
    theirs = [
        (await write(fb, ours, "POST", "users/clients", {"client": {"email": f"i{n}@x.test"}}))
        for n in range(3)
    ]

    assert [r.status_code for r in mine] == [200] * 6
    assert [r.status_code for r in theirs] == [503] * 3
    log = (await fb.http.get("/_sandbox/requests", params={"method": "POST"})).json()["requests"]
    assert {(e["user_name"], e["fault"]) for e in log} == {
        ("tester", None),
        ("integration", "error"),
    }


async def test_a_fault_aimed_at_an_oauth_client_spares_other_clients(fb: FreshBooks) -> None:
    await add_user(fb, TESTER)
    person = await token_for(fb, "tester", client="freshbooks-web")
    integration_client = await fb.http.post(
        "/_sandbox/faults",
        json={"kind": "rate_limit", "client": "freshforce-sandbox", "retry_after": 7, "times": 2},
    )
    assert integration_client.status_code == 201, integration_client.text

    spared = await fb.http.get(fb.url("users/clients"), headers=fb.auth(person))
    limited = await fb.http.get(fb.url("users/clients"), headers=fb.auth())
    no_token = await fb.http.get(fb.url("users/clients"))

    assert spared.status_code == 200
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "7")
    assert no_token.status_code == 401  # a caller nobody can name is never aimed at
    rules = (await fb.http.get("/_sandbox/faults")).json()["faults"]
    assert [r["times"] for r in rules] == [1]


async def test_duplicating_one_callback_leaves_another_single(
    fb: FreshBooks, receiver: Receiver
) -> None:
    noisy = await register(fb, receiver, "client.create", "/noisy")
    quiet = await register(fb, receiver, "client.create", "/quiet")
    mode = await fb.http.put(
        "/_sandbox/deliveries/mode", json={"duplicate": 1.0, "callback": noisy}
    )
    assert mode.json()["callback"] == str(noisy)

    made = [await fb.create("users/clients", "client", {"email": f"c{n}@x.test"}) for n in range(3)]
    await drain(fb)

    ids = [str(c["id"]) for c in made]
    with receiver.lock:
        got = [(r.path, form_of(r.body)["object_id"]) for r in receiver.received]
    assert sorted(i for path, i in got if path == "/hook/noisy") == sorted(ids * 2)
    assert sorted(i for path, i in got if path == "/hook/quiet") == sorted(ids)
    query = {"callback": str(quiet), "event": "client.create"}
    shown = (await fb.http.get("/_sandbox/deliveries", params=query)).json()
    assert shown["modes"] == {
        str(noisy): {"lossy": 0.0, "duplicate": 1.0, "late_seconds": 0.0, "reorder_seconds": 0.0}
    }
    assert [a["object_id"] for a in shown["attempts"]] == ids
    assert shown["mode"]["duplicate"] == 0.0


async def test_users_are_listed_usable_checked_and_forgotten_on_reset(fb: FreshBooks) -> None:
    before = await fb.http.post("/_sandbox/tokens", json={"user": "tester"})
    tester = await add_user(fb, {"name": "Tess Tester", "email": TESTER["email"]})
    token = await token_for(fb, "Tess Tester")
    me = (await fb.http.get("/auth/api/v1/users/me", headers=fb.auth(token))).json()["response"]
    clash = await fb.http.post(
        "/_sandbox/users", json={"name": "Other", "email": TESTER["email"].upper()}
    )
    owner_again = await fb.http.post(
        "/_sandbox/users", json={"name": "X", "email": "x@x.test", "role": "owner"}
    )
    unknown = await fb.http.post("/_sandbox/faults", json={"kind": "error", "user": "ghost"})
    no_callback = await fb.http.put("/_sandbox/deliveries/mode", json={"callback": 999})
    bad_method = await fb.http.get("/_sandbox/requests", params={"method": "FETCH"})
    listed = (await fb.http.get("/_sandbox/users")).json()["users"]
    await fb.http.post("/_sandbox/reset")
    after = (await fb.http.get("/_sandbox/users")).json()["users"]

    assert before.status_code == 404
    assert tester == {
        "id": "1002",
        "name": "Tess Tester",
        "email": TESTER["email"],
        "role": "business_employee",
        "username": TESTER["email"],
    }
    assert (me["id"], me["first_name"], me["last_name"]) == (1002, "Tess", "Tester")
    assert me["business_memberships"][0]["role"] == "business_employee"
    assert me["business_memberships"][0]["business"]["account_id"] == fb.account
    assert (clash.status_code, owner_again.status_code) == (422, 422)
    assert "email" in clash.text
    assert (unknown.status_code, no_callback.status_code, bad_method.status_code) == (422,) * 3
    assert "ghost" in unknown.text
    assert "999" in no_callback.text
    assert "FETCH" in bad_method.text
    assert [u["name"] for u in listed] == ["Sam Sandbox", "Tess Tester"]
    assert [u["role"] for u in after] == ["owner"]


async def test_seeds_and_person_routes_name_a_user(fb: FreshBooks) -> None:
    await add_user(fb, {"name": "Tess Tester", "email": TESTER["email"]})
    admin = "/_sandbox/freshbooks"
    client = await fb.http.post(
        f"{admin}/records",
        json={"resource": "clients", "records": [{"fields": {"organization": "Seeded"}}]},
    )
    seeded = await fb.http.post(
        f"{admin}/records",
        json={
            "resource": "invoices",
            "records": [
                {"fields": {"customerid": client.json()["ids"][0]}, "owner": "Tess Tester"},
                {"fields": {"customerid": client.json()["ids"][0]}, "owner": 7},
            ],
        },
    )
    first, second = seeded.json()["ids"]
    sent = await fb.http.post(
        f"{admin}/ui/invoices/{second}/send", json={}, params={"user": TESTER["email"]}
    )
    nobody = await fb.http.post(f"{admin}/ui/invoices/{first}/send", json={}, params={"user": "x"})
    bad_owner = await fb.http.post(
        f"{admin}/records",
        json={"resource": "invoices", "records": [{"fields": {}, "owner": "ghost"}]},
    )

    assert (await fb.get(f"invoices/invoices/{first}"))["invoice"]["ownerid"] == 2
    assert sent.json()["invoice"]["sentid"] == 2
    assert sent.json()["invoice"]["ownerid"] == 7
    assert (nobody.status_code, bad_owner.status_code) == (422, 422)
    assert "ghost" in bad_owner.text
