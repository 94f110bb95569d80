"""Validation rules added through the admin API fail writes the way Salesforce does."""

from __future__ import annotations

import pytest
from sforg import LiveOrg
from simple_salesforce.exceptions import SalesforceMalformedRequest

PHONE_RULE = {
    "object": "Account",
    "name": "Customers_Need_A_Phone",
    "condition": "AND(ISPICKVAL(Type, 'Customer'), ISBLANK(Phone))",
    "message": "A customer needs a phone number.",
    "field": "phone",
}


def _add(live_org: LiveOrg, rule: dict[str, object]) -> dict[str, object]:
    response = live_org.admin.post("/_sandbox/salesforce/validation-rules", json=rule)
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def _accounts(live_org: LiveOrg) -> list[str]:
    rows = live_org.sf.query("SELECT Name FROM Account ORDER BY Name")["records"]
    return [r["Name"] for r in rows]


def test_a_rule_fails_only_its_record_of_a_collections_batch(live_org: LiveOrg):
    assert _add(live_org, PHONE_RULE)["field"] == "Phone"
    records = [
        {"attributes": {"type": "Account"}, "Name": "Has Phone", "Type": "Customer", "Phone": "1"},
        {"attributes": {"type": "Account"}, "Name": "No Phone", "Type": "Customer"},
        {"attributes": {"type": "Account"}, "Name": "Prospect", "Type": "Prospect"},
    ]
    results = live_org.sf.restful(
        "composite/sobjects", method="POST", json={"allOrNone": False, "records": records}
    )
    assert [r["success"] for r in results] == [True, False, True]
    assert results[1] == {
        "id": None,
        "success": False,
        "errors": [
            {
                "statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                "message": "A customer needs a phone number.",
                "fields": ["Phone"],
            }
        ],
    }
    assert _accounts(live_org) == ["Has Phone", "Prospect"]


def test_with_all_or_none_the_batch_rolls_back(live_org: LiveOrg):
    _add(live_org, PHONE_RULE)
    records = [
        {"attributes": {"type": "Account"}, "Name": "Fine", "Type": "Prospect"},
        {"attributes": {"type": "Account"}, "Name": "No Phone", "Type": "Customer"},
    ]
    results = live_org.sf.restful(
        "composite/sobjects", method="POST", json={"allOrNone": True, "records": records}
    )
    codes = [r["errors"][0]["statusCode"] for r in results]
    assert codes == ["ALL_OR_NONE_OPERATION_ROLLED_BACK", "FIELD_CUSTOM_VALIDATION_EXCEPTION"]
    assert _accounts(live_org) == []


def test_rest_update_sees_the_prior_value(live_org: LiveOrg):
    _add(
        live_org,
        {
            "object": "Opportunity",
            "name": "No_Reopening",
            "condition": "PRIORVALUE(IsClosed) && ISCHANGED(StageName) && NOT(IsClosed)",
            "message": "A closed deal stays closed.",
        },
    )
    _add(
        live_org,
        {
            "object": "Opportunity",
            "name": "Amount_Limit",
            "condition": "Amount > 1000000",
            "message": "Ask finance first.",
            "field": "Amount",
        },
    )
    sf = live_org.sf
    opportunity = sf.Opportunity.create(
        {"Name": "Deal", "StageName": "Closed Won", "CloseDate": "2024-06-30", "Amount": 10}
    )["id"]
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Opportunity.update(opportunity, {"StageName": "Prospecting", "Amount": 2_000_000})
    assert refused.value.content == [
        {
            "message": "A closed deal stays closed.",
            "errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            "fields": [],
        },
        {
            "message": "Ask finance first.",
            "errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            "fields": ["Amount"],
        },
    ]
    assert sf.Opportunity.update(opportunity, {"Amount": 20}) == 204
    removed = live_org.admin.delete(
        "/_sandbox/salesforce/validation-rules/opportunity/no_reopening"
    )
    assert removed.status_code == 204
    assert sf.Opportunity.update(opportunity, {"StageName": "Prospecting"}) == 204


def test_inactive_rules_do_nothing_and_rules_are_listed(live_org: LiveOrg):
    _add(live_org, {**PHONE_RULE, "active": False})
    live_org.sf.Account.create({"Name": "No Phone", "Type": "Customer"})
    listed = live_org.admin.get("/_sandbox/salesforce/validation-rules").json()
    assert listed == [{**PHONE_RULE, "field": "Phone", "active": False}]


@pytest.mark.parametrize(
    ("condition", "complaint"),
    [
        ("AND(ISBLANK(Phone)", "condition: ends too early (a missing ')' or operand?)"),
        ("Phone = = '1'", "condition: line 1 column 9: syntax error near ="),
        ("Phone = '1' ;", "condition: line 1 column 13: syntax error"),
        ("Phonee = '1'", "condition: line 1 column 1: Field Phonee does not exist."),
        ("AnnualRevenue > 'big'", "Incorrect parameter type for operator '>'"),
        ("ISCHANGED('Phone')", "ISCHANGED() takes a field name"),
        ("Phone", "condition: must be true or false, not text"),
        ("FOO(Phone)", "Unknown function FOO"),
    ],
)
def test_a_bad_condition_is_refused_saying_where(live_org: LiveOrg, condition: str, complaint: str):
    response = live_org.admin.post(
        "/_sandbox/salesforce/validation-rules", json={**PHONE_RULE, "condition": condition}
    )
    assert response.status_code == 422
    assert complaint in response.json()["detail"]
