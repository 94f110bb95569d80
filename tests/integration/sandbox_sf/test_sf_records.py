"""sObject CRUD, validation and the org's rules, through the REST surface."""

from __future__ import annotations

import re

from sforg import API, Org

from freshforce.sandbox.salesforce.ids import is_valid_id, to_18

WIRE_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")


async def test_create_read_update_delete_round_trip(org: Org):
    account_id = await org.create("Account", {"Name": "Acme", "BillingCity": "Lyon"})
    assert len(account_id) == 18
    assert account_id.startswith("001")
    assert is_valid_id(account_id)
    assert to_18(account_id[:15]) == account_id

    read = await org.get(f"sobjects/Account/{account_id}")
    body = read.json()
    assert read.status_code == 200
    assert body["attributes"] == {"type": "Account", "url": f"{API}/sobjects/Account/{account_id}"}
    assert body["Name"] == "Acme"
    assert body["IsDeleted"] is False
    assert WIRE_DATETIME.match(body["LastModifiedDate"])
    assert body["SystemModstamp"] == body["CreatedDate"]

    org.runtime.clock.advance(90)
    patched = await org.http.patch(
        f"{API}/sobjects/Account/{account_id}", json={"Name": "Acme Ltd"}, headers=org.headers
    )
    assert patched.status_code == 204
    assert patched.content == b""
    after = (await org.get(f"sobjects/Account/{account_id}")).json()
    assert after["Name"] == "Acme Ltd"
    assert after["LastModifiedDate"] > body["LastModifiedDate"]
    assert after["SystemModstamp"] == after["LastModifiedDate"]
    assert after["CreatedDate"] == body["CreatedDate"]

    deleted = await org.http.delete(f"{API}/sobjects/Account/{account_id}", headers=org.headers)
    assert deleted.status_code == 204
    gone = await org.get(f"sobjects/Account/{account_id}")
    assert gone.status_code == 404
    assert gone.json()[0]["errorCode"] == "ENTITY_IS_DELETED"
    live = await org.query(f"SELECT Id FROM Account WHERE Id = '{account_id}'")  # noqa: S608 - SOQL
    assert live["totalSize"] == 0
    soql = f"SELECT Id, IsDeleted FROM Account WHERE Id = '{account_id}'"  # noqa: S608 - SOQL
    everything = await org.query(soql, everything=True)
    assert everything["records"][0]["IsDeleted"] is True  # type: ignore[index]


async def test_fifteen_character_ids_trailing_slashes_and_pretty_print_are_accepted(org: Org):
    account_id = await org.create("Account", {"Name": "Short"})
    response = await org.http.get(
        f"{API}/sobjects/Account/{account_id[:15]}/",
        params={"fields": "Name"},
        headers={**org.headers, "X-PrettyPrint": "1"},
    )
    assert response.status_code == 200
    assert response.json() == {
        "attributes": {"type": "Account", "url": f"{API}/sobjects/Account/{account_id}"},
        "Name": "Short",
    }


async def test_validation_errors_use_salesforce_codes(org: Org):
    missing = await org.http.post(
        f"{API}/sobjects/Opportunity", json={"Name": "No stage"}, headers=org.headers
    )
    assert missing.status_code == 400
    assert missing.json() == [
        {
            "message": "Required fields are missing: [StageName, CloseDate]",
            "errorCode": "REQUIRED_FIELD_MISSING",
            "fields": ["StageName", "CloseDate"],
        }
    ]
    unknown = await org.http.post(
        f"{API}/sobjects/Account", json={"Name": "X", "Nope__c": 1}, headers=org.headers
    )
    assert unknown.json()[0]["errorCode"] == "INVALID_FIELD"
    read_only = await org.http.post(
        f"{API}/sobjects/Opportunity",
        json={"Name": "X", "StageName": "Prospecting", "CloseDate": "2026-01-01", "IsWon": True},
        headers=org.headers,
    )
    assert read_only.json()[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    bad_stage = await org.http.post(
        f"{API}/sobjects/Opportunity",
        json={"Name": "X", "StageName": "Dreaming", "CloseDate": "2026-01-01"},
        headers=org.headers,
    )
    assert bad_stage.json()[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    bad_email = await org.http.post(
        f"{API}/sobjects/Contact", json={"LastName": "X", "Email": "nope"}, headers=org.headers
    )
    assert bad_email.json()[0]["errorCode"] == "INVALID_EMAIL_ADDRESS"
    bad_ref = await org.http.post(
        f"{API}/sobjects/Contact",
        json={"LastName": "X", "AccountId": "garbage"},
        headers=org.headers,
    )
    assert bad_ref.json()[0]["errorCode"] == "MALFORMED_ID"
    bad_json = await org.http.post(
        f"{API}/sobjects/Account", content=b"{not json", headers=org.headers
    )
    assert bad_json.status_code == 400
    assert bad_json.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    nothing = await org.get("sobjects/Account/001000000000000AAA")
    assert nothing.status_code == 404
    assert nothing.json()[0]["errorCode"] == "NOT_FOUND"


async def test_unique_external_ids_refuse_duplicates(org: Org):
    first = await org.create("Account", {"Name": "A", "FreshBooks_Client_Id__c": "fb-1"})
    again = await org.http.post(
        f"{API}/sobjects/Account",
        json={"Name": "B", "FreshBooks_Client_Id__c": "FB-1"},
        headers=org.headers,
    )
    assert again.status_code == 400
    error = again.json()[0]
    assert error["errorCode"] == "DUPLICATE_VALUE"
    assert error["message"].endswith(f"duplicates value on record with id: {first}")


async def test_opportunity_flags_follow_the_stage_and_amount_follows_line_items(org: Org):
    account = await org.create("Account", {"Name": "Buyer"})
    product = await org.create(
        "Product2", {"Name": "Widget", "ProductCode": "W-1", "IsActive": True}
    )
    pricebook = (await org.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true"))["records"][
        0
    ]["Id"]  # type: ignore[index]
    entry = await org.create(
        "PricebookEntry",
        {"Pricebook2Id": pricebook, "Product2Id": product, "UnitPrice": 120, "IsActive": True},
    )
    opportunity = await org.create(
        "Opportunity",
        {
            "Name": "Deal",
            "AccountId": account,
            "StageName": "Prospecting",
            "CloseDate": "2026-03-01",
            "Amount": 5,
        },
    )
    line = await org.create(
        "OpportunityLineItem",
        {"OpportunityId": opportunity, "PricebookEntryId": entry, "Quantity": 3, "Discount": 10},
    )
    item = (await org.get(f"sobjects/OpportunityLineItem/{line}")).json()
    assert item["UnitPrice"] == 120.0
    assert item["ListPrice"] == 120.0
    assert item["TotalPrice"] == 324.0
    assert item["Product2Id"] == product
    assert item["Name"] == "Deal Widget"
    deal = (await org.get(f"sobjects/Opportunity/{opportunity}")).json()
    assert deal["Amount"] == 324.0
    assert deal["HasOpportunityLineItem"] is True
    assert (deal["IsWon"], deal["IsClosed"]) == (False, False)

    await org.http.patch(
        f"{API}/sobjects/Opportunity/{opportunity}",
        json={"StageName": "Closed Won"},
        headers=org.headers,
    )
    won = (await org.get(f"sobjects/Opportunity/{opportunity}")).json()
    assert (won["IsWon"], won["IsClosed"], won["Probability"]) == (True, True, 100.0)
    await org.http.patch(
        f"{API}/sobjects/Opportunity/{opportunity}",
        json={"StageName": "Closed Lost"},
        headers=org.headers,
    )
    lost = (await org.get(f"sobjects/Opportunity/{opportunity}")).json()
    assert (lost["IsWon"], lost["IsClosed"]) == (False, True)

    both = await org.http.post(
        f"{API}/sobjects/OpportunityLineItem",
        json={
            "OpportunityId": opportunity,
            "PricebookEntryId": entry,
            "Quantity": 1,
            "UnitPrice": 1,
            "TotalPrice": 2,
        },
        headers=org.headers,
    )
    assert both.json()[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    typed = await org.http.patch(
        f"{API}/sobjects/Opportunity/{opportunity}", json={"Amount": 1}, headers=org.headers
    )
    assert typed.status_code == 204
    assert (await org.get(f"sobjects/Opportunity/{opportunity}")).json()["Amount"] == 324.0
    await org.http.patch(
        f"{API}/sobjects/OpportunityLineItem/{line}",
        json={"Quantity": 1, "Discount": 0},
        headers=org.headers,
    )
    assert (await org.get(f"sobjects/Opportunity/{opportunity}")).json()["Amount"] == 120.0


async def test_deleting_an_account_takes_its_children_and_undelete_is_not_offered_twice(org: Org):
    account = await org.create("Account", {"Name": "Parent"})
    contact = await org.create("Contact", {"LastName": "Child", "AccountId": account})
    await org.http.delete(f"{API}/sobjects/Account/{account}", headers=org.headers)
    child = await org.get(f"sobjects/Contact/{contact}")
    assert child.json()[0]["errorCode"] == "ENTITY_IS_DELETED"
    again = await org.http.delete(f"{API}/sobjects/Account/{account}", headers=org.headers)
    assert again.status_code == 404


async def test_unsupported_versions_and_objects_are_not_found(org: Org):
    old = await org.http.get("/services/data/v30.0/sobjects", headers=org.headers)
    assert old.status_code == 404
    assert old.json()[0]["errorCode"] == "NOT_FOUND"
    unknown = await org.get("sobjects/Invoice__c/describe")
    assert unknown.status_code == 404
    versions = (await org.http.get("/services/data/")).json()
    assert {"label": "Winter '24", "url": "/services/data/v59.0", "version": "59.0"} in versions
