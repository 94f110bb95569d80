"""Orders and order products: numbering, price book rules, activation and currency."""

from __future__ import annotations

import pytest
from sforg import API, LiveOrg, Org
from simple_salesforce.exceptions import SalesforceMalformedRequest


async def _write(org: Org, method: str, path: str, body: dict[str, object] | None = None):
    return await org.http.request(method, f"{API}/{path}", json=body, headers=org.headers)


async def test_an_order_numbers_rolls_up_and_freezes_when_activated(org: Org):
    state = org.sandbox.state
    standard = state.standard_pricebook_id()
    product = await org.create("Product2", {"Name": "Shuttle", "IsActive": True})
    entry = await org.create(
        "PricebookEntry",
        {"Pricebook2Id": standard, "Product2Id": product, "UnitPrice": 40, "IsActive": True},
    )
    account = await org.create("Account", {"Name": "Weavers"})
    order = await org.create("Order", {"AccountId": account, "EffectiveDate": "2024-05-01"})
    item = {"OrderId": order, "PricebookEntryId": entry, "Quantity": 2, "UnitPrice": 35}
    refused = await _write(org, "POST", "sobjects/OrderItem", item)
    assert refused.status_code == 400
    assert refused.json()[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert "order has no pricebook assigned" in refused.json()[0]["message"]

    assert (
        await _write(org, "PATCH", f"sobjects/Order/{order}", {"Pricebook2Id": standard})
    ).status_code == 204
    first = await org.create("OrderItem", item)
    await org.create("OrderItem", {**item, "Quantity": 1})
    row = (
        await org.query(
            "SELECT OrderNumber, Status, StatusCode, TotalAmount, "
            "(SELECT Product2Id, ListPrice, TotalPrice FROM OrderItems) FROM Order"
        )
    )["records"][0]  # type: ignore[index]
    assert row["OrderNumber"] == "00000100"
    assert (row["Status"], row["StatusCode"], row["TotalAmount"]) == ("Draft", "Draft", 105.0)
    lines = row["OrderItems"]["records"]
    assert [(r["Product2Id"], r["ListPrice"], r["TotalPrice"]) for r in lines] == [
        (product, 40.0, 70.0),
        (product, 40.0, 35.0),
    ]

    assert (
        await _write(org, "PATCH", f"sobjects/Order/{order}", {"Status": "Activated"})
    ).status_code == 204
    activated = (await org.get(f"sobjects/Order/{order}")).json()
    assert activated["StatusCode"] == "Activated"
    assert activated["ActivatedDate"] is not None
    for method, path, body in (
        ("POST", "sobjects/OrderItem", item),
        ("PATCH", f"sobjects/OrderItem/{first}", {"Quantity": 5}),
        ("DELETE", f"sobjects/OrderItem/{first}", None),
    ):
        response = await _write(org, method, path, body)
        assert response.status_code == 400, (method, response.text)
        assert response.json()[0]["fields"] == ["OrderId"]
    assert (
        await _write(org, "PATCH", f"sobjects/Order/{order}", {"Status": "Draft"})
    ).status_code == 204
    assert (await _write(org, "DELETE", f"sobjects/OrderItem/{first}")).status_code == 204
    total = (await org.get(f"sobjects/Order/{order}")).json()["TotalAmount"]
    assert total == 35.0


def test_order_products_follow_the_order_currency(live_org: LiveOrg):
    sf = live_org.sf
    standard = sf.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")["records"][0]["Id"]
    product = sf.Product2.create({"Name": "Bobbin", "IsActive": True})["id"]
    entries = {
        code: sf.PricebookEntry.create(
            {
                "Pricebook2Id": standard,
                "Product2Id": product,
                "UnitPrice": price,
                "CurrencyIsoCode": code,
                "IsActive": True,
            }
        )["id"]
        for code, price in (("USD", 10), ("EUR", 9))
    }
    account = sf.Account.create({"Name": "Bobbins GmbH", "CurrencyIsoCode": "EUR"})["id"]
    order = sf.Order.create(
        {
            "AccountId": account,
            "EffectiveDate": "2024-05-01",
            "Pricebook2Id": standard,
            "CurrencyIsoCode": "EUR",
        }
    )["id"]
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.OrderItem.create(
            {"OrderId": order, "PricebookEntryId": entries["USD"], "Quantity": 1, "UnitPrice": 10}
        )
    assert "does not match order currency code" in refused.value.content[0]["message"]
    item = sf.OrderItem.create(
        {"OrderId": order, "PricebookEntryId": entries["EUR"], "Quantity": 4, "UnitPrice": 9}
    )["id"]
    assert sf.OrderItem.get(item)["CurrencyIsoCode"] == "EUR"
    assert sf.Order.get(order)["TotalAmount"] == 36.0
    with pytest.raises(SalesforceMalformedRequest) as frozen:
        sf.Order.update(order, {"CurrencyIsoCode": "USD"})
    assert frozen.value.content[0]["fields"] == ["CurrencyIsoCode"]
