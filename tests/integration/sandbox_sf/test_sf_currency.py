"""Multi-currency: an org setting, off by default, with currencies, dated rates and CDC."""

from __future__ import annotations

import pytest
from sforg import API, LiveOrg, Org
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest


def _eur_product(sf: Salesforce) -> tuple[str, str]:
    """A product with a standard price in USD and one in EUR; return (USD, EUR) entry ids."""
    standard = sf.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")["records"][0]["Id"]
    product = sf.Product2.create({"Name": "Loom", "ProductCode": "LOOM", "IsActive": True})["id"]
    entries = []
    for code, price in (("USD", 100.0), ("EUR", 92.0)):
        body = {
            "Pricebook2Id": standard,
            "Product2Id": product,
            "UnitPrice": price,
            "IsActive": True,
            "CurrencyIsoCode": code,
        }
        entries.append(sf.PricebookEntry.create(body)["id"])
    return entries[0], entries[1]


def _eur_opportunity(sf: Salesforce) -> str:
    account = sf.Account.create({"Name": "Lyon Looms SA", "CurrencyIsoCode": "EUR"})["id"]
    body = {
        "Name": "Looms for Lyon",
        "AccountId": account,
        "StageName": "Prospecting",
        "CloseDate": "2024-06-30",
        "CurrencyIsoCode": "EUR",
    }
    return str(sf.Opportunity.create(body)["id"])


def test_an_eur_opportunity_takes_eur_products(live_org: LiveOrg):
    sf = live_org.sf
    _usd_entry, eur_entry = _eur_product(sf)
    opportunity = _eur_opportunity(sf)
    sf.OpportunityLineItem.create(
        {"OpportunityId": opportunity, "PricebookEntryId": eur_entry, "Quantity": 3}
    )
    row = sf.query(
        "SELECT Id, CurrencyIsoCode, Amount, (SELECT CurrencyIsoCode, UnitPrice, TotalPrice "
        "FROM OpportunityLineItems) FROM Opportunity"
    )["records"][0]
    assert row["Id"] == opportunity
    assert row["CurrencyIsoCode"] == "EUR"
    assert row["Amount"] == 276.0
    [item] = row["OpportunityLineItems"]["records"]
    assert item == item | {"CurrencyIsoCode": "EUR", "UnitPrice": 92.0, "TotalPrice": 276.0}
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Opportunity.update(opportunity, {"CurrencyIsoCode": "USD"})
    assert refused.value.content[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert refused.value.content[0]["fields"] == ["CurrencyIsoCode"]
    assert sf.Opportunity.update(opportunity, {"CurrencyIsoCode": "EUR", "NextStep": "Ship"}) == 204


def test_a_line_item_in_another_currency_is_refused(live_org: LiveOrg):
    sf = live_org.sf
    usd_entry, _eur_entry = _eur_product(sf)
    opportunity = _eur_opportunity(sf)
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.OpportunityLineItem.create(
            {"OpportunityId": opportunity, "PricebookEntryId": usd_entry, "Quantity": 1}
        )
    assert refused.value.content == [
        {
            "message": "field integrity exception: PricebookEntryId (pricebook entry currency "
            "code does not match opportunity currency code)",
            "errorCode": "FIELD_INTEGRITY_EXCEPTION",
            "fields": ["PricebookEntryId"],
        }
    ]
    assert sf.query("SELECT COUNT() FROM OpportunityLineItem")["totalSize"] == 0


def test_a_line_item_by_product_finds_the_entry_in_the_opportunity_currency(live_org: LiveOrg):
    sf = live_org.sf
    _usd_entry, eur_entry = _eur_product(sf)
    opportunity = _eur_opportunity(sf)
    product = sf.query("SELECT Id FROM Product2 WHERE ProductCode = 'LOOM'")["records"][0]["Id"]
    item = sf.OpportunityLineItem.create(
        {"OpportunityId": opportunity, "Product2Id": product, "Quantity": 1}
    )["id"]
    assert sf.OpportunityLineItem.get(item)["PricebookEntryId"] == eur_entry


def test_dated_rates_are_queried_by_date(live_org: LiveOrg):
    sf = live_org.sf
    for start, rate in (("2024-01-01", 0.90), ("2024-07-01", 0.95), ("2024-04-01", 0.93)):
        sf.DatedConversionRate.create(
            {"IsoCode": "EUR", "StartDate": start, "ConversionRate": rate}
        )
    on_day = (
        "SELECT ConversionRate, StartDate, NextStartDate FROM DatedConversionRate "
        "WHERE IsoCode = 'EUR' AND StartDate <= {0} AND NextStartDate > {0}"
    )
    rows = {day: sf.query(on_day.format(day))["records"] for day in ("2023-12-31", "2024-05-15")}
    assert [r["ConversionRate"] for r in rows["2023-12-31"]] == [0.92]  # the org's first rate
    [may] = rows["2024-05-15"]
    assert may == may | {"ConversionRate": 0.93, "StartDate": "2024-04-01"}
    assert may["NextStartDate"] == "2024-07-01"
    ranges = sf.query(
        "SELECT StartDate, NextStartDate FROM DatedConversionRate WHERE IsoCode = 'EUR' "
        "ORDER BY StartDate"
    )["records"]
    assert [(r["StartDate"], r["NextStartDate"]) for r in ranges] == [
        ("0001-01-01", "2024-01-01"),
        ("2024-01-01", "2024-04-01"),
        ("2024-04-01", "2024-07-01"),
        ("2024-07-01", "9999-12-31"),
    ]


def test_currencies_describe_and_defaults(live_org: LiveOrg):
    sf = live_org.sf
    currencies = sf.query("SELECT IsoCode, ConversionRate, IsCorporate FROM CurrencyType")
    corporate = [r["IsoCode"] for r in currencies["records"] if r["IsCorporate"]]
    assert corporate == ["USD"]
    fields = {f["name"]: f for f in sf.Opportunity.describe()["fields"]}
    assert fields["CurrencyIsoCode"]["type"] == "picklist"
    assert {"USD", "EUR"} <= {v["value"] for v in fields["CurrencyIsoCode"]["picklistValues"]}
    contact = sf.Contact.create({"LastName": "Default"})["id"]
    assert sf.Contact.get(contact)["CurrencyIsoCode"] == "USD"
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Account.create({"Name": "Zorkmid Ltd", "CurrencyIsoCode": "ZZZ"})
    [error] = refused.value.content
    assert error["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert error["fields"] == ["CurrencyIsoCode"]


async def test_change_events_carry_the_currency(live_org: LiveOrg):
    account = live_org.sf.Account.create({"Name": "Pound Shop", "CurrencyIsoCode": "GBP"})["id"]
    live_org.sf.Account.update(account, {"CurrencyIsoCode": "EUR"})
    create, update = await live_org.events("/data/AccountChangeEvent", 2)
    assert create["CurrencyIsoCode"] == "GBP"
    assert update["CurrencyIsoCode"] == "EUR"
    assert update["ChangeEventHeader"]["changeType"] == "UPDATE"


async def test_a_single_currency_org_has_no_currency_field(org: Org):
    soql = "SELECT Id, CurrencyIsoCode FROM Account"
    response = await org.get("query", q=soql)
    assert response.status_code == 400
    [error] = response.json()
    assert error["errorCode"] == "INVALID_FIELD"
    assert error["message"] == (
        f"\n{soql}\n           ^\nERROR at Row:1:Column:12\n"
        "No such column 'CurrencyIsoCode' on entity 'Account'. If you are attempting to use a "
        "custom field, be sure to append the '__c' after the custom field name. Please "
        "reference your WSDL or the describe call for the appropriate names."
    )
    described = (await org.get("sobjects/Account/describe")).json()
    assert "CurrencyIsoCode" not in {f["name"] for f in described["fields"]}
    assert (await org.get("query", q="SELECT Id FROM CurrencyType")).status_code == 400
    written = await org.http.post(
        f"{API}/sobjects/Account",
        json={"Name": "Acme", "CurrencyIsoCode": "USD"},
        headers=org.headers,
    )
    assert written.json()[0]["errorCode"] == "INVALID_FIELD"


async def test_multi_currency_can_be_turned_on_later(org: Org):
    account = await org.create("Account", {"Name": "Before"})
    response = await org.http.post("/_sandbox/salesforce/multi-currency")
    assert response.status_code == 200
    codes = [c["IsoCode"] for c in response.json()["currencies"]]
    assert codes == ["USD", "EUR", "GBP", "CAD"]
    row = await org.query("SELECT CurrencyIsoCode FROM Account")
    assert row["records"][0]["CurrencyIsoCode"] == "USD"  # type: ignore[index]
    assert org.sandbox.state.read("Account", account)["CurrencyIsoCode"] == "USD"
    again = await org.http.post("/_sandbox/salesforce/multi-currency")
    assert again.json() == response.json()  # turning it on twice changes nothing


def test_the_seed_deals_in_two_currencies(live_org: LiveOrg):
    seeded = live_org.admin.post("/_sandbox/seed", json={"records": 4, "seed": 3})
    assert seeded.status_code == 200, seeded.text
    rows = live_org.sf.query(
        "SELECT CurrencyIsoCode, Account.CurrencyIsoCode, "
        "(SELECT CurrencyIsoCode, PricebookEntry.CurrencyIsoCode FROM OpportunityLineItems) "
        "FROM Opportunity"
    )["records"]
    assert sorted(r["CurrencyIsoCode"] for r in rows) == ["EUR", "USD", "USD", "USD"]
    for row in rows:
        assert row["Account"]["CurrencyIsoCode"] == row["CurrencyIsoCode"]
        for item in row["OpportunityLineItems"]["records"]:
            assert item["CurrencyIsoCode"] == row["CurrencyIsoCode"]
            assert item["PricebookEntry"]["CurrencyIsoCode"] == row["CurrencyIsoCode"]


def test_a_new_currency_is_usable_at_once(live_org: LiveOrg):
    sf = live_org.sf
    body = {"IsoCode": "JPY", "ConversionRate": 151.5, "DecimalPlaces": 0, "IsActive": True}
    sf.CurrencyType.create(body)
    fields = {f["name"]: f for f in sf.Account.describe()["fields"]}
    assert "JPY" in {v["value"] for v in fields["CurrencyIsoCode"]["picklistValues"]}
    account = sf.Account.create({"Name": "Kyoto KK", "CurrencyIsoCode": "JPY"})["id"]
    assert sf.Account.get(account)["CurrencyIsoCode"] == "JPY"
    rates = sf.query("SELECT ConversionRate FROM DatedConversionRate WHERE IsoCode = 'JPY'")
    assert [r["ConversionRate"] for r in rates["records"]] == [151.5]
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.CurrencyType.create(body)
    assert refused.value.content[0]["errorCode"] == "DUPLICATE_VALUE"
