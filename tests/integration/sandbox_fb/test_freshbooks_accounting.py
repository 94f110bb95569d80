"""FreshBooks accounting through the in-process app: envelopes, paging, filters, quirks, money."""

from __future__ import annotations

from conftest import FreshBooks


async def client(fb: FreshBooks, **fields) -> dict:
    return await fb.create("users/clients", "client", {"email": "a@example.com", **fields})


async def test_list_envelope_paging_and_per_page_cap(fb: FreshBooks) -> None:
    empty = await fb.get("users/clients")
    assert empty == {"clients": [], "page": 1, "pages": 0, "per_page": 15, "total": 0}
    for n in range(23):
        await client(fb, organization=f"Org {n:02d}")
    first = await fb.get("users/clients", per_page=500)
    assert (first["per_page"], first["pages"], first["total"]) == (100, 1, 23)
    second = await fb.get("users/clients", page=2, per_page=10)
    assert second["clients"][0]["organization"] == "Org 10"
    assert (second["page"], second["pages"]) == (2, 3)
    assert (await fb.get("users/clients", page=9))["clients"] == []
    assert (await fb.get("users/clients", page=0))["page"] == 1


async def test_bad_paging_and_unknown_filter_errors(fb: FreshBooks) -> None:
    bad = await fb.http.get(fb.url("users/clients"), params={"page": "x"}, headers=fb.auth())
    assert bad.status_code == 400
    assert bad.json()["response"]["errors"][0]["errno"] == 1014
    unknown = await fb.http.get(
        fb.url("users/clients"), params={"search[colour]": "red"}, headers=fb.auth()
    )
    assert unknown.status_code == 400
    error = unknown.json()["response"]["errors"][0]
    assert error["field"] == "search[colour]"
    assert "organization_like" in error["message"]


async def test_search_filters_equals_in_like(fb: FreshBooks) -> None:
    a = await client(fb, organization="Acme Rockets", email="ops@acme.test")
    b = await client(fb, organization="Bolt Ltd", email="hi@bolt.test")
    await client(fb, organization="Cargo", email="c@cargo.test")
    like = await fb.get("users/clients", **{"search[organization_like]": "ACME"})
    assert [c["id"] for c in like["clients"]] == [a["id"]]
    eq = await fb.get("users/clients", **{"search[email]": "hi@bolt.test"})
    assert [c["id"] for c in eq["clients"]] == [b["id"]]
    ids = [("search[userids][]", a["id"]), ("search[userids][]", b["id"])]
    response = await fb.http.get(fb.url("users/clients"), params=ids, headers=fb.auth())
    assert {c["id"] for c in response.json()["response"]["result"]["clients"]} == {a["id"], b["id"]}


async def test_updated_filters_work_by_day(fb: FreshBooks, fb_app) -> None:
    old = await client(fb, organization="Old")
    fb_app.runtime.clock.advance(3 * 86_400)
    fb.token = (await fb.http.post("/_sandbox/tokens", json={})).json()["access_token"]
    new = await client(fb, organization="New")
    new_day = new["updated"][:10]
    assert old["updated"][:10] < new_day
    since = await fb.get("users/clients", **{"search[updated_min]": new_day})
    assert [c["id"] for c in since["clients"]] == [new["id"]]
    before = await fb.get("users/clients", **{"search[updated_max]": new_day})
    assert [c["id"] for c in before["clients"]] == [old["id"]]
    ordered = await fb.get("users/clients", sort="updated_desc")
    assert [c["id"] for c in ordered["clients"]] == [new["id"], old["id"]]


async def test_vis_state_put_discards_other_fields_and_lists_hide_deleted(fb: FreshBooks) -> None:
    keep = await client(fb, organization="Keep")
    gone = await client(fb, organization="Gone")
    archived = await client(fb, organization="Archived")
    deleted = await fb.update(
        f"users/clients/{gone['id']}", "client", {"vis_state": 1, "organization": "Renamed"}
    )
    assert (deleted["vis_state"], deleted["organization"]) == (1, "Gone")
    await fb.update(f"users/clients/{archived['id']}", "client", {"vis_state": 2})
    listed = await fb.get("users/clients")
    assert {c["id"] for c in listed["clients"]} == {keep["id"], archived["id"]}
    only_deleted = await fb.get("users/clients", **{"search[vis_state]": 1})
    assert [c["id"] for c in only_deleted["clients"]] == [gone["id"]]
    single = await fb.get(f"users/clients/{gone['id']}")
    assert single["client"]["vis_state"] == 1


async def test_client_defaults_and_timestamps(fb: FreshBooks) -> None:
    made = await fb.create("users/clients", "client", {"email": "solo@example.com"})
    assert made["organization"] == "solo@example.com"
    assert (made["fname"], made["lname"]) == ("", "")
    assert made["id"] == made["userid"]
    assert made["accounting_systemid"] == fb.account
    assert len(made["updated"]) == 19
    assert "T" not in made["updated"]
    missing = await fb.http.post(fb.url("users/clients"), json={"client": {}}, headers=fb.auth())
    assert missing.status_code == 422
    assert missing.json()["response"]["errors"][0]["errno"] == 1001


async def test_not_found_and_bad_body_shapes(fb: FreshBooks) -> None:
    response = await fb.http.get(fb.url("users/clients/12345"), headers=fb.auth())
    assert response.status_code == 404
    assert response.json() == {
        "response": {
            "errors": [
                {
                    "errno": 1012,
                    "field": "userid",
                    "message": "Client not found.",
                    "object": "client",
                    "value": "12345",
                }
            ]
        }
    }
    bad_json = await fb.http.post(fb.url("users/clients"), content=b"{nope", headers=fb.auth())
    assert bad_json.status_code == 400
    assert bad_json.json()["response"]["errors"][0]["errno"] == 1005
    wrong_account = await fb.http.get("/accounting/account/OTHER1/users/clients", headers=fb.auth())
    assert wrong_account.status_code == 403
    nowhere = await fb.http.get(fb.url("nothing/here"), headers=fb.auth())
    assert nowhere.status_code == 404
    assert "errors" in nowhere.json()["response"]


async def test_invoice_totals_status_and_payments(fb: FreshBooks) -> None:
    c = await client(fb, currency_code="CAD", organization="Maple", p_city="Toronto")
    lines = [
        {
            "name": "A",
            "qty": 4,
            "unit_cost": {"amount": "5.00"},
            "taxName1": "HST",
            "taxAmount1": "13",
        },
        {"name": "B", "qty": "6", "unit_cost": {"amount": 4}},
    ]
    body = {
        "customerid": c["id"],
        "create_date": "2024-03-01",
        "due_offset_days": 30,
        "discount_value": "10",
        "lines": lines,
    }
    invoice = await fb.create("invoices/invoices", "invoice", body)
    assert invoice["amount"] == {"amount": "41.94", "code": "CAD"}
    assert invoice["discount_total"] == {"amount": "-4.40", "code": "CAD"}
    assert (invoice["status"], invoice["v3_status"], invoice["payment_status"]) == (
        1,
        "draft",
        "unpaid",
    )
    assert invoice["outstanding"]["amount"] == "41.94"
    assert invoice["due_date"] == "2024-03-31"
    assert (invoice["organization"], invoice["city"]) == ("Maple", "Toronto")
    assert [line["amount"]["amount"] for line in invoice["lines"]] == ["20.00", "24.00"]
    iid = invoice["id"]
    sent = await fb.update(f"invoices/invoices/{iid}", "invoice", {"action_mark_as_sent": True})
    assert (sent["status"], sent["v3_status"]) == (2, "sent")

    p1 = await fb.create(
        "payments/payments",
        "payment",
        {"invoiceid": iid, "amount": {"amount": "20.00"}, "date": "2024-03-05"},
    )
    assert p1["amount"] == {"amount": "20.00", "code": "CAD"}
    assert p1["clientid"] == c["id"]
    partial = (await fb.get(f"invoices/invoices/{iid}"))["invoice"]
    assert (partial["status"], partial["v3_status"], partial["payment_status"]) == (
        8,
        "partial",
        "partial",
    )
    assert (partial["paid"]["amount"], partial["outstanding"]["amount"]) == ("20.00", "21.94")

    p2 = await fb.create(
        "payments/payments", "payment", {"invoiceid": iid, "amount": "30.00", "date": "2024-03-09"}
    )
    over = (await fb.get(f"invoices/invoices/{iid}"))["invoice"]
    assert (over["status"], over["v3_status"], over["payment_status"]) == (4, "paid", "paid")
    assert (over["paid"]["amount"], over["outstanding"]["amount"]) == ("50.00", "0.00")
    assert over["date_paid"] == "2024-03-09"

    await fb.update(f"payments/payments/{p2['id']}", "payment", {"vis_state": 1})
    await fb.update(f"payments/payments/{p1['id']}", "payment", {"amount": {"amount": "41.94"}})
    exact = (await fb.get(f"invoices/invoices/{iid}"))["invoice"]
    assert (exact["v3_status"], exact["paid"]["amount"], exact["date_paid"]) == (
        "paid",
        "41.94",
        "2024-03-05",
    )
    await fb.update(f"payments/payments/{p1['id']}", "payment", {"vis_state": 1})
    back = (await fb.get(f"invoices/invoices/{iid}"))["invoice"]
    assert (back["status"], back["v3_status"], back["date_paid"]) == (2, "sent", None)


async def test_invoice_lines_only_on_request_in_lists_and_numbers_increment(fb: FreshBooks) -> None:
    c = await client(fb)
    first = await fb.create(
        "invoices/invoices",
        "invoice",
        {"customerid": c["id"], "invoice_number": "ACM0009", "lines": []},
    )
    second = await fb.create("invoices/invoices", "invoice", {"customerid": c["id"]})
    assert second["invoice_number"] == "ACM0010"
    plain = await fb.get("invoices/invoices")
    assert all("lines" not in i for i in plain["invoices"])
    with_lines = await fb.get("invoices/invoices", **{"include[]": "lines"})
    assert all(i["lines"] == [] for i in with_lines["invoices"])
    by_customer = await fb.get("invoices/invoices", **{"search[customerid]": c["id"]})
    assert by_customer["total"] == 2
    deleted = await fb.http.delete(fb.url(f"invoices/invoices/{first['id']}"), headers=fb.auth())
    assert deleted.status_code == 200
    assert deleted.json()["response"]["result"]["invoice"]["vis_state"] == 1
    assert (await fb.get("invoices/invoices"))["total"] == 1


async def test_payment_requires_existing_invoice(fb: FreshBooks) -> None:
    response = await fb.http.post(
        fb.url("payments/payments"),
        json={"payment": {"invoiceid": 999, "amount": {"amount": "1.00"}}},
        headers=fb.auth(),
    )
    assert response.status_code == 404
    error = response.json()["response"]["errors"][0]
    assert (error["errno"], error["field"], error["object"]) == (1012, "invoiceid", "payment")


async def test_outstanding_balance_include_and_items_taxes(fb: FreshBooks) -> None:
    c = await client(fb)
    lines = [{"name": "x", "qty": 1, "unit_cost": {"amount": "10.00"}}]
    await fb.create("invoices/invoices", "invoice", {"customerid": c["id"], "lines": lines})
    shown = await fb.get(f"users/clients/{c['id']}", **{"include[]": "outstanding_balance"})
    assert shown["client"]["outstanding_balance"] == [
        {"amount": {"amount": "10.00", "code": "USD"}}
    ]
    item = await fb.create("items/items", "item", {"name": "Widget", "unit_cost": "2.5"})
    assert item["unit_cost"] == {"amount": "2.50", "code": "USD"}
    tax = await fb.create("taxes/taxes", "tax", {"name": "HST", "amount": 13})
    assert (tax["amount"], tax["id"] == tax["taxid"]) == ("13", True)
    gone = await fb.http.delete(fb.url(f"taxes/taxes/{tax['id']}"), headers=fb.auth())
    assert gone.json()["response"]["result"]["tax"]["vis_state"] == 1


async def test_bad_values_answer_400_naming_the_field(fb: FreshBooks) -> None:
    c = await client(fb)
    cases = [
        (
            "invoices/invoices",
            "invoice",
            {"customerid": c["id"], "create_date": "01/02/2024"},
            "create_date",
        ),
        (
            "invoices/invoices",
            "invoice",
            {"customerid": c["id"], "due_offset_days": "soon"},
            "due_offset_days",
        ),
        ("invoices/invoices", "invoice", {"customerid": "abc"}, "customerid"),
        (
            "invoices/invoices",
            "invoice",
            {"customerid": c["id"], "lines": [{"qty": "many", "unit_cost": {"amount": "1"}}]},
            "line",
        ),
        ("invoices/invoices", "invoice", {"customerid": c["id"], "lines": "none"}, "lines"),
    ]
    for path, singular, body, field in cases:
        response = await fb.http.post(fb.url(path), json={singular: body}, headers=fb.auth())
        assert response.status_code == 400, (body, response.text)
        error = response.json()["response"]["errors"][0]
        assert field in (error["field"], error["object"]), (body, error)
        assert error["errno"] == 1004
    invoice = await fb.create("invoices/invoices", "invoice", {"customerid": c["id"]})
    bad_payment = await fb.http.post(
        fb.url("payments/payments"),
        json={"payment": {"invoiceid": invoice["id"], "amount": "1", "date": "tomorrow"}},
        headers=fb.auth(),
    )
    assert bad_payment.status_code == 400
    assert bad_payment.json()["response"]["errors"][0]["field"] == "date"
