"""The validation-rule formula subset: what fires, what does not, and what is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from freshforce.sandbox.salesforce.errors import SalesforceError
from freshforce.sandbox.salesforce.objects import standard_catalog
from freshforce.sandbox.salesforce.validation import FormulaError, ValidationRules

NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)
OPPORTUNITY = standard_catalog().get("Opportunity")
assert OPPORTUNITY is not None


def fires(condition: str, new: dict[str, object], old: dict[str, object] | None = None) -> bool:
    rules = ValidationRules()
    rules.add(OPPORTUNITY, "Rule", condition, "refused")
    try:
        rules.check(OPPORTUNITY, old, new, NOW)  # type: ignore[arg-type]
    except SalesforceError as exc:
        return exc.error_code == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    return False


@pytest.mark.parametrize(
    ("condition", "new", "expected"),
    [
        ("Amount > 100", {"Amount": 150.0}, True),
        ("Amount > 100", {"Amount": 50.0}, False),
        ("Amount > 100", {"Amount": None}, False),  # a blank number compares as nothing
        ("Amount >= 100 && Amount <= 200", {"Amount": 100}, True),
        ("amount < 1 || ISBLANK(NextStep)", {"Amount": 5.0, "NextStep": None}, True),
        ("and(isblank(NextStep), not(IsWon))", {"NextStep": None, "IsWon": False}, True),
        ("OR(Name = 'a', Name == \"b\")", {"Name": "b"}, True),
        ("Name <> 'a'", {"Name": None}, True),
        ("NextStep = ''", {"NextStep": None}, True),  # blank text equals ''
        ("NextStep = NULL", {"NextStep": "call"}, False),
        ("ISPICKVAL(StageName, 'Closed Won')", {"StageName": "Closed Won"}, True),
        ("CloseDate < TODAY()", {"CloseDate": "2024-04-30"}, True),
        ("CloseDate < DATE(2024, 1, 1)", {"CloseDate": "2024-04-30"}, False),
        ("IsWon", {"IsWon": True}, True),
        ("ISNEW()", {}, True),
        ("ISCHANGED(Name)", {"Name": "x"}, False),  # nothing changes on create
        ("PRIORVALUE(Amount) > 10", {"Amount": 50.0}, True),  # the value itself on create
    ],
)
def test_conditions_on_create(condition: str, new: dict[str, object], expected: bool):
    assert fires(condition, new) is expected


def test_conditions_on_update_see_the_old_record():
    old = {"Name": "a", "Amount": 10.0, "IsClosed": True}
    assert fires("ISCHANGED(Name)", {**old, "Name": "b"}, old)
    assert not fires("ISCHANGED(Name)", old, old)
    assert fires("PRIORVALUE(Amount) < Amount", {**old, "Amount": 20.0}, old)
    assert not fires("ISNEW()", old, old)


def test_every_failed_rule_is_one_error_item_with_its_field():
    rules = ValidationRules()
    rules.add(OPPORTUNITY, "One", "Amount > 1", "too much", "amount")
    rules.add(OPPORTUNITY, "Two", "ISBLANK(NextStep)", "say what is next")
    rules.add(OPPORTUNITY, "Off", "TRUE", "never", active=False)
    with pytest.raises(SalesforceError) as failed:
        rules.check(OPPORTUNITY, None, {"Amount": 5.0, "NextStep": None}, NOW)
    assert failed.value.status == 400
    assert failed.value.body() == [
        {
            "message": "too much",
            "errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            "fields": ["Amount"],
        },
        {
            "message": "say what is next",
            "errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            "fields": [],
        },
    ]
    assert rules.remove("opportunity", "ONE")
    assert not rules.remove("Opportunity", "One")
    assert [r.name for r in rules.all()] == ["Two", "Off"]


@pytest.mark.parametrize(
    ("condition", "complaint"),
    [
        ("Amount >", "ends too early"),
        ("Amount > 'x'", "Expected number, received text"),
        ("AND(Amount)", "AND() expects true or false, got number"),
        ("NOT(IsWon, IsClosed)", "Expected 1, received 2"),
        ("ISPICKVAL(StageName, 3)", "ISPICKVAL() compares with text"),
        ("DATE(2024, 2, 30) > CloseDate", "DATE(): day is out of range"),
        ("BillingCity = 'x'", "Field BillingCity does not exist"),
        ("PRIORVALUE(1) = 1", "PRIORVALUE() takes a field name"),
    ],
)
def test_bad_conditions_are_refused(condition: str, complaint: str):
    with pytest.raises(FormulaError, match=None) as refused:
        ValidationRules().add(OPPORTUNITY, "Rule", condition, "refused")
    assert complaint in str(refused.value)


def test_an_unknown_error_field_is_refused():
    with pytest.raises(FormulaError, match="Opportunity has no field 'Nope'"):
        ValidationRules().add(OPPORTUNITY, "Rule", "TRUE", "refused", "Nope")
