"""Upsert by external id (201/200/204/300) and the daily API allocation, through REST."""

from __future__ import annotations

from sforg import API, Org


async def test_upsert_creates_then_updates_then_answers_204_before_api_46(org: Org):
    url = f"{API}/sobjects/Account/FreshBooks_Client_Id__c/fb%2B7%20x"
    created = await org.http.patch(url, json={"Name": "Upserted"}, headers=org.headers)
    assert created.status_code == 201
    body = created.json()
    assert body["created"] is True
    assert body["success"] is True
    updated = await org.http.patch(url, json={"Name": "Again"}, headers=org.headers)
    assert updated.status_code == 200
    assert updated.json() == {"id": body["id"], "success": True, "errors": [], "created": False}
    old_api = url.replace("v59.0", "v45.0")
    legacy = await org.http.patch(old_api, json={"Name": "Legacy"}, headers=org.headers)
    assert legacy.status_code == 204
    read = await org.get("sobjects/Account/FreshBooks_Client_Id__c/fb%2B7+x")  # quote_plus
    assert read.status_code == 200
    assert read.json()["Name"] == "Legacy"
    assert read.json()["FreshBooks_Client_Id__c"] == "fb+7 x"


async def test_an_external_id_matching_several_records_answers_300_and_writes_nothing(org: Org):
    added = await org.http.post(
        "/_sandbox/salesforce/fields",
        json={"object": "Account", "name": "Legacy_Ref__c", "external_id": True},
    )
    assert added.status_code == 201
    first = await org.create("Account", {"Name": "One", "Legacy_Ref__c": "dup"})
    second = await org.create("Account", {"Name": "Two", "Legacy_Ref__c": "dup"})
    url = f"{API}/sobjects/Account/Legacy_Ref__c/dup"
    upsert = await org.http.patch(url, json={"Name": "Both?"}, headers=org.headers)
    assert upsert.status_code == 300
    assert sorted(upsert.json()) == sorted(
        [f"{API}/sobjects/Account/{first}", f"{API}/sobjects/Account/{second}"]
    )
    names = await org.query("SELECT Name FROM Account WHERE Legacy_Ref__c = 'dup' ORDER BY Name")
    assert [r["Name"] for r in names["records"]] == ["One", "Two"]  # type: ignore[union-attr]
    lookup = await org.get("sobjects/Account/Legacy_Ref__c/dup")
    assert lookup.status_code == 300


async def test_upsert_on_a_field_that_is_not_an_external_id_is_refused(org: Org):
    response = await org.http.patch(
        f"{API}/sobjects/Account/Name/Acme", json={"Phone": "1"}, headers=org.headers
    )
    assert response.status_code == 404
    assert response.json()[0]["errorCode"] == "NOT_FOUND"


async def test_limit_info_counts_calls_and_the_allocation_runs_out(org: Org):
    first = await org.get("limits/")
    used = int(first.headers["sforce-limit-info"].split("=")[1].split("/")[0])
    limits = first.json()["DailyApiRequests"]
    assert limits["Max"] == 15000
    assert limits["Remaining"] == 15000 - used
    second = await org.get("sobjects")
    assert second.headers["sforce-limit-info"] == f"api-usage={used + 1}/15000"

    await org.http.put("/_sandbox/salesforce/limits", json={"max_calls": 3, "reset": True})
    statuses = [(await org.get("sobjects")).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 403]
    refused = await org.get("sobjects")
    assert refused.json()[0] == {
        "message": "TotalRequests Limit exceeded.",
        "errorCode": "REQUEST_LIMIT_EXCEEDED",
        "fields": [],
    }
    assert refused.headers["sforce-limit-info"] == "api-usage=3/3"
    org.runtime.clock.advance(24 * 3600 + 1)
    assert (await org.get("sobjects")).status_code == 401  # the 2-hour session timed out too
    org.token = await org.admin_token()
    assert (await org.get("sobjects")).status_code == 200


async def test_unauthenticated_calls_are_refused_and_not_counted(org: Org):
    before = (await org.get("limits")).headers["sforce-limit-info"]
    refused = await org.http.get(f"{API}/sobjects", headers={"Authorization": "Bearer nope"})
    assert refused.status_code == 401
    assert refused.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    after = (await org.get("limits")).headers["sforce-limit-info"]
    used_before = int(before.split("=")[1].split("/")[0])
    assert after == f"api-usage={used_before + 1}/15000"


async def test_update_only_upsert_does_not_create(org: Org):
    url = f"{API}/sobjects/Account/FreshBooks_Client_Id__c/missing"
    refused = await org.http.patch(
        url, params={"updateOnly": "true"}, json={"Name": "X"}, headers=org.headers
    )
    assert refused.status_code == 404
    assert refused.json()[0]["errorCode"] == "NOT_FOUND"
    assert (await org.query("SELECT Id FROM Account"))["totalSize"] == 0
