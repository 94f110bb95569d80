"""simple-salesforce, unmodified, against the sandbox served over TLS on a real socket."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sforg import TlsOrg
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound


@pytest.fixture
def sf(tls_org: TlsOrg, monkeypatch: pytest.MonkeyPatch) -> Iterator[Salesforce]:
    # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override Session.verify; point them at
    # the sandbox's CA as well, as a user of a machine with those set would.
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.setenv(name, str(tls_org.ca_file))
    session = requests.Session()
    session.verify = str(tls_org.ca_file)
    client = Salesforce(
        instance_url=tls_org.url, session_id=tls_org.token, session=session, version="59.0"
    )
    yield client
    session.close()


def test_describe(sf: Salesforce):
    names = {o["name"] for o in sf.describe()["sobjects"]}
    assert {"Account", "Contact", "Opportunity", "OpportunityLineItem", "User"} <= names
    account = sf.Account.describe()
    fields = {f["name"]: f for f in account["fields"]}
    assert fields["FreshBooks_Client_Id__c"]["externalId"] is True
    assert {"childSObject": "Contact", "field": "AccountId"}.items() <= next(
        r for r in account["childRelationships"] if r["relationshipName"] == "Contacts"
    ).items()


def test_crud_and_upsert(sf: Salesforce):
    created = sf.Account.create({"Name": "Simple Co", "Phone": "123"})
    assert created["success"] is True
    record = sf.Account.get(created["id"])
    assert record["Name"] == "Simple Co"
    assert sf.Account.update(created["id"], {"Phone": "456"}) == 204
    assert sf.Account.get(created["id"])["Phone"] == "456"
    assert sf.Account.upsert("FreshBooks_Client_Id__c/fb 9", {"Name": "Upserted"}) == 201
    assert sf.Account.upsert("FreshBooks_Client_Id__c/fb 9", {"Name": "Upserted 2"}) == 200
    by_external = sf.Account.get_by_custom_id("FreshBooks_Client_Id__c", "fb 9")
    assert by_external["Name"] == "Upserted 2"
    assert sf.Account.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get(created["id"])
    with pytest.raises(SalesforceMalformedRequest) as error:
        sf.Contact.create({"FirstName": "No last name"})
    assert error.value.content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"


def test_query_all_follows_the_pages(sf: Salesforce):
    records = [{"attributes": {"type": "Contact"}, "LastName": f"P{n:03d}"} for n in range(200)]
    for _ in range(3):
        sf.restful("composite/sobjects", method="POST", json={"records": records})
    headers = {"Sforce-Query-Options": "batchSize=200"}
    first = sf.query("SELECT Id FROM Contact WHERE LastName LIKE 'P%'", headers=headers)
    assert first["done"] is False
    assert len(first["records"]) == 200
    everything = sf.query_all(
        "SELECT Id, LastName FROM Contact WHERE LastName LIKE 'P%'", headers=headers
    )
    assert everything["totalSize"] == 600
    assert len({r["Id"] for r in everything["records"]}) == 600


def test_limits_and_api_usage(sf: Salesforce):
    limits = sf.limits()
    assert limits["DailyApiRequests"]["Max"] == 15000
    sf.describe()
    usage = sf.api_usage["api-usage"]
    assert usage.total == 15000
    assert usage.used == 15000 - limits["DailyApiRequests"]["Remaining"] + 1


def test_replication_lists_updated_and_deleted_ids(sf: Salesforce):
    start = datetime.now(UTC) - timedelta(minutes=5)
    kept = sf.Contact.create({"LastName": "Replicated"})["id"]
    gone = sf.Contact.create({"LastName": "Removed"})["id"]
    sf.Contact.delete(gone)
    end = datetime.now(UTC) + timedelta(minutes=1)
    updated = sf.Contact.updated(start, end)
    assert kept in updated["ids"]
    assert gone not in updated["ids"]
    deleted = sf.Contact.deleted(start, end)
    assert [r["id"] for r in deleted["deletedRecords"]] == [gone]
