"""What REST writes hand to change data capture, fault drills, and the admin API."""

from __future__ import annotations

from sforg import API, Org


async def test_each_committed_write_appends_a_change_record(org: Org):
    changes = org.sandbox.state.changes
    start = changes.latest_replay_id()
    headers = {**org.headers, "Sforce-Call-Options": "client=freshforce, defaultNamespace=x"}
    created = await org.http.post(
        f"{API}/sobjects/Account",
        json={"Name": "CDC", "Website": "https://cdc.example"},
        headers=headers,
    )
    account_id = created.json()["id"]
    await org.http.patch(
        f"{API}/sobjects/Account/{account_id}",
        json={"Phone": "555", "Website": None},
        headers=org.headers,
    )
    await org.http.delete(f"{API}/sobjects/Account/{account_id}", headers=org.headers)
    create, update, delete = changes.since(start)
    assert create.change_type == "CREATE"
    assert create.record_ids == (account_id,)
    assert create.change_origin == "com/salesforce/api/rest/59.0;client=freshforce"
    assert create.fields["Name"] == "CDC"
    assert "SystemModstamp" not in create.fields
    assert create.changed_fields == ()  # changedFields is empty for a create
    assert create.commit_user == org.sandbox.state.admin_user_id
    assert update.change_type == "UPDATE"
    assert update.change_origin == "com/salesforce/api/rest/59.0"
    assert set(update.changed_fields) == {
        "Phone",
        "Website",
        "LastModifiedDate",
        "LastModifiedById",
    }
    assert update.fields["Phone"] == "555"
    assert update.nulled_fields == ("Website",)
    assert delete.change_type == "DELETE"
    assert delete.fields == {}
    assert len({create.transaction_key, update.transaction_key, delete.transaction_key}) == 3
    assert create.commit_timestamp_ms > 0


async def test_one_composite_request_is_one_transaction(org: Org):
    changes = org.sandbox.state.changes
    start = changes.latest_replay_id()
    records = [{"attributes": {"type": "Account"}, "Name": f"T{n}"} for n in range(3)]
    await org.http.post(f"{API}/composite/sobjects", json={"records": records}, headers=org.headers)
    batch = changes.since(start)
    assert len(batch) == 3
    assert len({c.transaction_key for c in batch}) == 1
    assert [c.sequence_number for c in batch] == [1, 2, 3]
    failed = await org.http.post(
        f"{API}/composite/sobjects",
        json={"allOrNone": True, "records": [*records, {"attributes": {"type": "Account"}}]},
        headers=org.headers,
    )
    assert not any(r["success"] for r in failed.json())
    assert len(changes.since(start)) == 3  # the rolled-back batch left no changes behind


async def test_fault_rules_answer_with_salesforce_bodies(org: Org):
    await org.http.post(
        "/_sandbox/faults",
        json={"kind": "error", "status": 500, "path": f"{API}/sobjects*", "times": 1},
    )
    locked = await org.get("sobjects")
    assert locked.status_code == 500
    assert locked.json()[0]["errorCode"] == "UNABLE_TO_LOCK_ROW"
    assert (await org.get("sobjects")).status_code == 200
    await org.http.post("/_sandbox/faults", json={"kind": "expired_token", "times": 1})
    expired = await org.get("limits")
    assert expired.status_code == 401
    assert expired.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    await org.http.post("/_sandbox/faults", json={"kind": "limit_exhausted", "times": 1})
    exhausted = await org.get("limits")
    assert exhausted.status_code == 403
    assert exhausted.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"


async def test_custom_fields_added_at_run_time_appear_in_describe_and_accept_values(org: Org):
    added = await org.http.post(
        "/_sandbox/salesforce/fields",
        json={
            "object": "opportunity",
            "name": "Region__c",
            "type": "picklist",
            "picklist_values": ["EMEA", "AMER"],
            "restricted_picklist": True,
        },
    )
    assert added.json() == {"object": "Opportunity", "field": "Region__c"}
    describe = (await org.get("sobjects/Opportunity/describe")).json()
    region = next(f for f in describe["fields"] if f["name"] == "Region__c")
    assert region["custom"] is True
    assert [v["value"] for v in region["picklistValues"]] == ["EMEA", "AMER"]
    deal = await org.http.post(
        f"{API}/sobjects/Opportunity",
        json={
            "Name": "R",
            "StageName": "Prospecting",
            "CloseDate": "2026-05-01",
            "Region__c": "APAC",
        },
        headers=org.headers,
    )
    assert deal.json()[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    bad = await org.http.post(
        "/_sandbox/salesforce/fields", json={"object": "Account", "name": "NoSuffix"}
    )
    assert bad.status_code == 422


async def test_seed_snapshot_and_reset(org: Org):
    seeded = (await org.http.post("/_sandbox/seed", json={"records": 5, "seed": 3})).json()[
        "created"
    ]
    assert seeded["Account"] == 5
    assert seeded["Contact"] == 10
    assert seeded["Opportunity"] == 5
    assert seeded["OpportunityLineItem"] >= 5
    snapshot = (await org.http.get("/_sandbox/snapshot")).json()
    assert len(snapshot["records"]["Account"]) == 5
    deals = await org.query(
        "SELECT Amount, (SELECT TotalPrice FROM OpportunityLineItems) FROM Opportunity"
    )
    for deal in deals["records"]:  # type: ignore[union-attr]
        items = deal["OpportunityLineItems"]["records"]
        assert deal["Amount"] == round(sum(i["TotalPrice"] for i in items), 2)
    await org.http.post("/_sandbox/reset")
    token = await org.admin_token()
    after = await org.http.get(
        f"{API}/query",
        params={"q": "SELECT Id FROM Account"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert after.json()["totalSize"] == 0
    assert (await org.get("sobjects")).status_code == 401  # reset ended the old sessions


async def test_the_same_seed_gives_the_same_names(org: Org):
    await org.http.post("/_sandbox/seed", json={"records": 3, "seed": 99})
    first = await org.query("SELECT Name FROM Account ORDER BY Name")
    await org.http.post("/_sandbox/reset")
    org.token = await org.admin_token()
    await org.http.post("/_sandbox/seed", json={"records": 3, "seed": 99})
    second = await org.query("SELECT Name FROM Account ORDER BY Name")
    assert first["records"] == second["records"]


async def test_admin_undelete_restores_what_was_deleted_together_and_tells_cdc(org: Org):
    account = await org.create("Account", {"Name": "Back"})
    contact = await org.create("Contact", {"LastName": "Along", "AccountId": account})
    await org.http.delete(f"{API}/sobjects/Account/{account}", headers=org.headers)
    start = org.sandbox.state.changes.latest_replay_id()
    restored = await org.http.post("/_sandbox/salesforce/undelete", json={"id": account})
    assert restored.json() == {"undeleted": account}
    assert (await org.get(f"sobjects/Contact/{contact}")).json()["LastName"] == "Along"
    events = org.sandbox.state.changes.since(start)
    assert [(e.entity_name, e.change_type) for e in events] == [
        ("Account", "UNDELETE"),
        ("Contact", "UNDELETE"),
    ]
    assert events[0].fields["Name"] == "Back"
    again = await org.http.post("/_sandbox/salesforce/undelete", json={"id": account})
    assert again.status_code == 400
