"""Compound address fields: nested in REST, SOQL and CDC, never writable."""

from __future__ import annotations

import pytest
from sforg import API, LiveOrg, Org
from simple_salesforce.exceptions import SalesforceMalformedRequest

EMPTY = {
    "city": None,
    "country": None,
    "geocodeAccuracy": None,
    "latitude": None,
    "longitude": None,
    "postalCode": None,
    "state": None,
    "street": None,
}


async def test_an_address_change_names_billing_city_and_reads_nested(live_org: LiveOrg):
    sf = live_org.sf
    account = sf.Account.create(
        {"Name": "Canut SA", "BillingStreet": "1 Rue Royale", "BillingCountry": "France"}
    )["id"]
    sf.Account.update(account, {"BillingCity": "Lyon", "BillingLatitude": 45.77})

    _create, update = await live_org.events("/data/AccountChangeEvent", 2)
    header = update["ChangeEventHeader"]
    schema = live_org.sandbox.state.catalog.get("Account")
    assert schema is not None
    names = _changed_names(update, header["changedFields"])
    assert {"BillingAddress.City", "BillingAddress.Latitude"} <= names
    assert "BillingAddress.Street" not in names
    assert update["BillingAddress"]["City"] == "Lyon"
    assert update["BillingAddress"]["Street"] is None  # unchanged parts are null in an UPDATE

    record = sf.Account.get(account)
    assert record["BillingAddress"] == EMPTY | {
        "street": "1 Rue Royale",
        "city": "Lyon",
        "country": "France",
        "latitude": 45.77,
    }
    assert list(record["BillingAddress"]) == list(EMPTY)  # Salesforce's key order
    assert record["ShippingAddress"] is None


def _changed_names(event: dict[str, object], bitmap: list[str]) -> set[str]:
    """Decode a changedFields bitmap against the event's own field order."""
    fields = list(event)
    names: set[str] = set()
    top = int(bitmap[0], 16)
    names.update(fields[i] for i in range(len(fields)) if top >> i & 1)
    for entry in bitmap[1:]:
        parent, mask = entry.split("-")
        nested = event[fields[int(parent)]]
        assert isinstance(nested, dict)
        parts = list(nested)
        names.update(
            f"{fields[int(parent)]}.{parts[i]}" for i in range(len(parts)) if int(mask, 16) >> i & 1
        )
    return names


def test_soql_reads_addresses_as_nested_objects(live_org: LiveOrg):
    sf = live_org.sf
    account = sf.Account.create({"Name": "Soie", "ShippingCity": "Lyon"})["id"]
    sf.Contact.create({"LastName": "Jacquard", "AccountId": account, "MailingPostalCode": "69001"})
    row = sf.query(
        "SELECT Name, ShippingAddress, BillingAddress, "
        "(SELECT MailingAddress FROM Contacts) FROM Account"
    )["records"][0]
    assert row["ShippingAddress"] == EMPTY | {"city": "Lyon"}
    assert row["BillingAddress"] is None
    contact = row["Contacts"]["records"][0]
    assert contact["MailingAddress"] == EMPTY | {"postalCode": "69001"}
    described = {f["name"]: f for f in sf.Account.describe()["fields"]}
    assert described["BillingAddress"]["type"] == "address"
    assert described["BillingAddress"]["updateable"] is False
    assert described["BillingCity"]["compoundFieldName"] == "BillingAddress"


def test_an_address_is_not_writable(live_org: LiveOrg):
    with pytest.raises(SalesforceMalformedRequest) as refused:
        live_org.sf.Account.create({"Name": "X", "BillingAddress": {"city": "Lyon"}})
    [error] = refused.value.content
    assert error["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert error["fields"] == ["BillingAddress"]


async def test_addresses_cannot_be_filtered_or_bulk_queried(org: Org):
    soql = "SELECT Id FROM Account WHERE BillingAddress = null"
    response = await org.get("query", q=soql)
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_FIELD"
    assert "field 'BillingAddress' can not be filtered" in response.json()[0]["message"]
    job = await org.http.post(
        f"{API}/jobs/query",
        json={"operation": "query", "query": "SELECT Id, BillingAddress FROM Account"},
        headers=org.headers,
    )
    assert job.status_code == 400
    assert "compound data not supported in Bulk Query" in job.text
