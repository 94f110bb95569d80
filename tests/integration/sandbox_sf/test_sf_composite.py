"""Composite and sObject Collections: references, allOrNone and per-record results."""

from __future__ import annotations

from sforg import API, Org


def _sub(
    method: str, path: str, ref: str, body: dict[str, object] | None = None
) -> dict[str, object]:
    sub: dict[str, object] = {"method": method, "url": f"{API}/{path}", "referenceId": ref}
    if body is not None:
        sub["body"] = body
    return sub


async def test_composite_chains_references_in_one_call(org: Org):
    before = (await org.get("limits")).headers["sforce-limit-info"]
    response = await org.http.post(
        f"{API}/composite",
        json={
            "allOrNone": True,
            "compositeRequest": [
                _sub("POST", "sobjects/Account", "acct", {"Name": "Chained"}),
                _sub(
                    "POST",
                    "sobjects/Contact",
                    "ct",
                    {"LastName": "Link", "AccountId": "@{acct.id}"},
                ),
                _sub("GET", "sobjects/Contact/@{ct.id}?fields=AccountId,Name", "read"),
                _sub("GET", "query?q=SELECT+Id+FROM+Account+WHERE+Id+%3D+%27@{acct.id}%27", "q"),
            ],
        },
        headers=org.headers,
    )
    assert response.status_code == 200
    results = response.json()["compositeResponse"]
    assert [r["httpStatusCode"] for r in results] == [201, 201, 200, 200]
    account_id = results[0]["body"]["id"]
    assert results[2]["body"]["AccountId"] == account_id
    assert results[2]["body"]["Name"] == "Link"
    assert results[3]["body"]["records"][0]["Id"] == account_id
    assert results[0]["httpHeaders"]["Location"].endswith(account_id)
    after = (await org.get("limits")).headers["sforce-limit-info"]
    used = int(before.split("=")[1].split("/")[0])
    assert after == f"api-usage={used + 2}/15000"  # the composite call and this one


async def test_composite_all_or_none_rolls_everything_back(org: Org):
    response = await org.http.post(
        f"{API}/composite",
        json={
            "allOrNone": True,
            "compositeRequest": [
                _sub("POST", "sobjects/Account", "ok", {"Name": "Rolled back"}),
                _sub("POST", "sobjects/Contact", "bad", {"FirstName": "No last name"}),
                _sub("POST", "sobjects/Account", "later", {"Name": "Never"}),
            ],
        },
        headers=org.headers,
    )
    results = response.json()["compositeResponse"]
    assert [r["httpStatusCode"] for r in results] == [400, 400, 400]
    assert results[0]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert results[1]["body"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert results[2]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    found = await org.query("SELECT Id FROM Account WHERE Name IN ('Rolled back', 'Never')")
    assert found["totalSize"] == 0


async def test_composite_without_all_or_none_keeps_what_worked(org: Org):
    response = await org.http.post(
        f"{API}/composite",
        json={
            "compositeRequest": [
                _sub("POST", "sobjects/Contact", "bad", {"FirstName": "No last name"}),
                _sub("POST", "sobjects/Account", "ok", {"Name": "Kept"}),
                _sub("PATCH", "sobjects/Account/@{bad.id}", "dependent", {"Name": "X"}),
            ]
        },
        headers=org.headers,
    )
    results = response.json()["compositeResponse"]
    assert [r["httpStatusCode"] for r in results] == [400, 201, 400]
    assert results[2]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert (await org.query("SELECT Id FROM Account WHERE Name = 'Kept'"))["totalSize"] == 1


async def test_composite_refuses_more_than_25_subrequests(org: Org):
    subs = [_sub("POST", "sobjects/Account", f"a{n}", {"Name": f"N{n}"}) for n in range(26)]
    response = await org.http.post(
        f"{API}/composite", json={"compositeRequest": subs}, headers=org.headers
    )
    assert response.status_code == 400
    assert (await org.query("SELECT Id FROM Account"))["totalSize"] == 0


async def test_collections_create_reports_each_record_in_order(org: Org):
    records = [
        {"attributes": {"type": "Account"}, "Name": "C1"},
        {"attributes": {"type": "Contact"}, "FirstName": "No last name"},
        {"attributes": {"type": "Contact"}, "LastName": "Fine"},
    ]
    response = await org.http.post(
        f"{API}/composite/sobjects",
        json={"allOrNone": False, "records": records},
        headers=org.headers,
    )
    results = response.json()
    assert response.status_code == 200
    assert [r["success"] for r in results] == [True, False, True]
    assert results[0]["id"].startswith("001")
    assert results[2]["id"].startswith("003")
    assert results[1]["id"] is None
    assert results[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert "errorCode" not in results[1]["errors"][0]


async def test_collections_all_or_none_rolls_back_the_valid_records(org: Org):
    records = [
        {"attributes": {"type": "Account"}, "Name": "Valid"},
        {"attributes": {"type": "Account"}},
    ]
    response = await org.http.post(
        f"{API}/composite/sobjects",
        json={"allOrNone": True, "records": records},
        headers=org.headers,
    )
    results = response.json()
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert (await org.query("SELECT Id FROM Account"))["totalSize"] == 0


async def test_collections_update_upsert_read_and_delete(org: Org):
    first = await org.create("Account", {"Name": "U1"})
    second = await org.create("Account", {"Name": "U2"})
    update = await org.http.patch(
        f"{API}/composite/sobjects",
        json={
            "records": [
                {"attributes": {"type": "Account"}, "id": first, "Phone": "111"},
                {"attributes": {"type": "Account"}, "id": second, "Name": ""},
            ]
        },
        headers=org.headers,
    )
    assert [r["success"] for r in update.json()] == [True, False]
    upsert = await org.http.patch(
        f"{API}/composite/sobjects/Account/FreshBooks_Client_Id__c",
        json={
            "records": [
                {
                    "attributes": {"type": "Account"},
                    "FreshBooks_Client_Id__c": "c-1",
                    "Name": "New",
                },
            ]
        },
        headers=org.headers,
    )
    assert upsert.json()[0]["created"] is True
    read = await org.get("composite/sobjects/Account", ids=f"{first},{second}", fields="Name,Phone")
    assert [(r["Name"], r["Phone"]) for r in read.json()] == [("U1", "111"), ("U2", None)]
    deleted = await org.http.delete(
        f"{API}/composite/sobjects", params={"ids": f"{first},{second}"}, headers=org.headers
    )
    assert [r["success"] for r in deleted.json()] == [True, True]
    too_many = await org.http.post(
        f"{API}/composite/sobjects",
        json={"records": [{"attributes": {"type": "Account"}, "Name": str(n)} for n in range(201)]},
        headers=org.headers,
    )
    assert too_many.status_code == 400
    assert too_many.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
