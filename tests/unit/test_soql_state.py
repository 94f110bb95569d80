import datetime as dt

import pytest

from freshforce.sandbox.salesforce.objects import FieldSpec
from freshforce.sandbox.salesforce.soql import SoqlError, StateRecordSource, run_soql
from freshforce.sandbox.salesforce.state import SalesforceState, WriteContext

NOW = dt.datetime(2024, 3, 10, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def state() -> SalesforceState:
    org = SalesforceState(clock=lambda: NOW)
    ctx = WriteContext(user_id=org.admin_user_id)
    acme = org.create("Account", {"Name": "Acme", "FreshBooks_Client_Id__c": "FB-1"}, ctx)
    org.create("Account", {"Name": "Globex"}, ctx)
    org.create("Contact", {"LastName": "Lovelace", "AccountId": acme}, ctx)
    product = org.create("Product2", {"Name": "Widget"}, ctx)
    entry = org.create(
        "PricebookEntry",
        {"Pricebook2Id": org.standard_pricebook_id(), "Product2Id": product, "UnitPrice": 50},
        ctx,
    )
    won = org.create(
        "Opportunity",
        {"Name": "Won", "AccountId": acme, "StageName": "Closed Won", "CloseDate": "2024-03-09"},
        ctx,
    )
    org.create(
        "OpportunityLineItem",
        {"OpportunityId": won, "PricebookEntryId": entry, "Quantity": 3, "UnitPrice": 50},
        ctx,
    )
    lost = org.create(
        "Opportunity",
        {"Name": "Lost", "StageName": "Closed Lost", "CloseDate": "2024-01-02"},
        ctx,
    )
    org.delete("Opportunity", lost, ctx)
    return org


def query(state: SalesforceState, text: str, *, include_deleted: bool = False):
    return run_soql(
        text, StateRecordSource(state), now=NOW, include_deleted=include_deleted, api_version="60.0"
    )


def test_parent_fields_children_and_derived_values(state: SalesforceState) -> None:
    result = query(
        state,
        "SELECT Name, IsWon, Amount, Account.Name, Account.Owner.LastName, "
        "(SELECT Quantity, TotalPrice, PricebookEntry.Product2.Name FROM OpportunityLineItems) "
        "FROM Opportunity",
    )
    assert result.total_size == 1
    row = result.records[0]
    assert row["attributes"]["url"].startswith("/services/data/v60.0/sobjects/Opportunity/006")
    assert (row["Name"], row["IsWon"], row["Amount"]) == ("Won", True, 150)
    assert row["Account"]["Name"] == "Acme"
    assert row["Account"]["Owner"]["LastName"] == "Admin"
    items = row["OpportunityLineItems"]
    assert items["totalSize"] == 1
    assert items["records"][0]["TotalPrice"] == 150
    assert items["records"][0]["PricebookEntry"]["Product2"]["Name"] == "Widget"


def test_query_all_and_date_literals_follow_the_state(state: SalesforceState) -> None:
    assert [r["Name"] for r in query(state, "SELECT Name FROM Opportunity").records] == ["Won"]
    every = query(
        state, "SELECT Name, IsDeleted FROM Opportunity ORDER BY Name", include_deleted=True
    )
    assert [(r["Name"], r["IsDeleted"]) for r in every.records] == [("Lost", True), ("Won", False)]
    assert (
        query(state, "SELECT COUNT() FROM Opportunity WHERE CloseDate = YESTERDAY").total_size == 1
    )
    stamped = query(state, "SELECT Id FROM Account WHERE SystemModstamp >= 2024-03-10T09:30:00Z")
    assert stamped.total_size == 2
    assert query(state, "SELECT Id FROM Account WHERE CreatedDate = TODAY").total_size == 2


def test_children_of_accounts_and_null_lookup(state: SalesforceState) -> None:
    rows = query(
        state, "SELECT Name, (SELECT LastName FROM Contacts) FROM Account ORDER BY Name"
    ).records
    assert rows[0]["Contacts"]["records"][0]["LastName"] == "Lovelace"
    assert rows[1]["Contacts"] is None
    orphan = query(state, "SELECT Account.Name FROM Opportunity", include_deleted=True).records
    assert {None} <= {r["Account"] and r["Account"]["Name"] for r in orphan}


def test_custom_fields_added_at_run_time_are_queryable(state: SalesforceState) -> None:
    with pytest.raises(SoqlError) as caught:
        query(state, "SELECT Tier__c FROM Account")
    assert caught.value.error_code == "INVALID_FIELD"
    state.add_custom_field("Account", FieldSpec(name="Tier__c", type="string"))
    rows = query(state, "SELECT tier__c FROM Account WHERE Tier__c = null").records
    assert len(rows) == 2
    assert rows[0]["Tier__c"] is None
