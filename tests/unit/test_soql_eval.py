import datetime as dt

import pytest
from soql_world import sample_source

from freshforce.sandbox.salesforce.soql import QueryResult, SoqlError, run_soql

NOW = dt.datetime(2024, 2, 1, 12, 0, tzinfo=dt.UTC)
URL = "/services/data/v59.0/sobjects"


def run(text: str, *, include_deleted: bool = False) -> QueryResult:
    return run_soql(text, sample_source(), now=NOW, include_deleted=include_deleted)


def ids(text: str, **kwargs: bool) -> list[str]:
    return [r["Id"] for r in run(text, **kwargs).records]


def test_rows_have_attributes_nested_parents_and_api_casing() -> None:
    result = run(
        "select id, NAME, account.name, Account.Owner.Name from opportunity "
        "where id = '006000000000001AAA'"
    )
    assert result.total_size == 1
    assert result.records == [
        {
            "attributes": {"type": "Opportunity", "url": f"{URL}/Opportunity/006000000000001AAA"},
            "Id": "006000000000001AAA",
            "Name": "Big deal",
            "Account": {
                "attributes": {"type": "Account", "url": f"{URL}/Account/001000000000001AAA"},
                "Name": "Acme",
                "Owner": {
                    "attributes": {"type": "User", "url": f"{URL}/User/005000000000001AAA"},
                    "Name": "Ada Admin",
                },
            },
        }
    ]


def test_empty_lookup_is_null_at_the_first_missing_level() -> None:
    rows = run("SELECT Account.Name, Account.Owner.Name FROM Opportunity WHERE Name = 'Orphan'")
    assert rows.records[0]["Account"] is None
    rows = run("SELECT Name, Owner.Name FROM Account WHERE Name = 'Initech'")
    assert rows.records[0]["Owner"] is None


def test_child_subquery_rows_and_null_when_empty() -> None:
    rows = run(
        "SELECT Name, (SELECT Quantity, Description FROM OpportunityLineItems "
        "ORDER BY Description DESC) FROM Opportunity ORDER BY Name"
    ).records
    assert [r["Name"] for r in rows] == ["Big deal", "Orphan", "Small deal"]
    items = rows[0]["OpportunityLineItems"]
    assert items["totalSize"] == 2
    assert items["done"] is True
    assert [i["Description"] for i in items["records"]] == ["Widget", "100% cotton_shirt"]
    assert items["records"][0]["attributes"]["type"] == "OpportunityLineItem"
    assert rows[1]["OpportunityLineItems"] is None


def test_query_all_sees_deleted_rows() -> None:
    assert run("SELECT COUNT() FROM Opportunity").total_size == 3
    assert run("SELECT COUNT() FROM Opportunity", include_deleted=True).total_size == 4
    assert ids("SELECT Id FROM Opportunity WHERE IsDeleted = true", include_deleted=True) == [
        "006000000000004AAA"
    ]


def test_count_of_a_field_is_an_aggregate_row() -> None:
    result = run("SELECT COUNT(Id), COUNT(Amount) total FROM Opportunity")
    assert result.total_size == 1
    assert result.records == [{"attributes": {"type": "AggregateResult"}, "expr0": 3, "total": 2}]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Name = 'ACME'", ["Acme"]),
        ("Name != 'acme'", ["globex", "Initech"]),
        ("Industry = null", ["globex"]),
        ("Industry != null", ["Acme", "Initech"]),
        ("Name LIKE 'g%'", ["globex"]),
        ("Name LIKE '_nit%'", ["Initech"]),
        ("Name IN ('acme', 'initech')", ["Acme", "Initech"]),
        ("Name NOT IN ('acme')", ["globex", "Initech"]),
        ("AnnualRevenue > 100", ["Acme"]),
        ("AnnualRevenue <= 50.5", ["Initech"]),
        ("NOT AnnualRevenue > 100", ["globex", "Initech"]),
        ("Owner.Name = 'Ada Admin' AND Industry = 'Tech'", ["Acme"]),
        ("(Industry = null OR Name = 'Initech') AND Id != null", ["globex", "Initech"]),
        ("CreatedDate > 2024-01-11T10:00:00Z", ["globex", "Initech"]),
        ("CreatedDate >= 2024-01-12T11:00:00+01:00", ["globex", "Initech"]),
        ("Id = '001000000000001'", ["Acme"]),
    ],
)
def test_where_operators(where: str, expected: list[str]) -> None:
    rows = run(f"SELECT Name FROM Account WHERE {where} ORDER BY Name").records  # noqa: S608 - SOQL under test
    assert [r["Name"] for r in rows] == expected


def test_like_escapes_match_literal_percent_and_underscore() -> None:
    assert ids("SELECT Id FROM OpportunityLineItem WHERE Description LIKE '100\\% cotton\\_%'") == [
        "00k000000000002AAA"
    ]
    assert ids("SELECT Id FROM OpportunityLineItem WHERE Description LIKE '100\\%x%'") == []


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("CloseDate = 2024-01-31", ["Big deal"]),
        ("CloseDate < 2024-02-15", ["Big deal"]),
        ("CloseDate = YESTERDAY", ["Big deal"]),
        ("CloseDate = TODAY", []),
        ("CloseDate = LAST_N_DAYS:1", ["Big deal"]),
        ("CloseDate = NEXT_N_DAYS:14", ["Small deal"]),
        ("CloseDate = NEXT_N_DAYS:13", []),
        ("CloseDate = THIS_MONTH", ["Small deal"]),
        ("CloseDate = LAST_MONTH", ["Big deal"]),
        ("CloseDate > THIS_MONTH", ["Orphan"]),
        ("CloseDate = THIS_YEAR", ["Big deal", "Orphan", "Small deal"]),
        ("CloseDate = N_DAYS_AGO:1", ["Big deal"]),
        ("SystemModstamp = LAST_N_DAYS:1", ["Big deal"]),
        ("SystemModstamp < TODAY", ["Big deal"]),
    ],
)
def test_date_literals_use_the_injected_clock(literal: str, expected: list[str]) -> None:
    text = f"SELECT Name FROM Opportunity WHERE {literal} ORDER BY Name"  # noqa: S608 - SOQL
    rows = run(text).records
    assert [r["Name"] for r in rows] == expected


def test_order_by_multiple_keys_nulls_and_slicing() -> None:
    base = "SELECT Name FROM Opportunity ORDER BY "

    def names(tail: str) -> list[str]:
        return [r["Name"] for r in run(base + tail).records]

    assert names("Amount") == ["Orphan", "Small deal", "Big deal"]
    assert names("Amount DESC") == ["Orphan", "Big deal", "Small deal"]
    assert names("Amount DESC NULLS LAST") == ["Big deal", "Small deal", "Orphan"]
    assert names("Amount ASC NULLS LAST") == ["Small deal", "Big deal", "Orphan"]
    assert names("StageName DESC, Name DESC") == ["Small deal", "Orphan", "Big deal"]
    assert names("Account.Name NULLS LAST, Name") == ["Big deal", "Small deal", "Orphan"]
    assert names("Name LIMIT 2") == ["Big deal", "Orphan"]
    assert names("Name LIMIT 2 OFFSET 2") == ["Small deal"]


def error_of(text: str) -> SoqlError:
    with pytest.raises(SoqlError) as caught:
        run(text)
    return caught.value


def test_unknown_field_is_invalid_field_with_caret() -> None:
    err = error_of("SELECT Id, Nmae FROM Account")
    assert err.error_code == "INVALID_FIELD"
    assert err.message.startswith(
        "\nSELECT Id, Nmae FROM Account\n           ^\nERROR at Row:1:Column:12\n"
        "No such column 'Nmae' on entity 'Account'. If you are attempting to use a custom "
        "field, be sure to append the '__c' after the custom field name."
    )
    assert (
        "No such column 'Nope' on entity 'User'"
        in error_of("SELECT Account.Owner.Nope FROM Opportunity").message
    )
    assert (
        "on entity 'OpportunityLineItem'"
        in error_of("SELECT (SELECT Nope FROM OpportunityLineItems) FROM Opportunity").message
    )
    assert error_of("SELECT Id FROM Account WHERE Nope = 1").error_code == "INVALID_FIELD"
    assert error_of("SELECT Id FROM Account ORDER BY Nope").error_code == "INVALID_FIELD"


def test_unknown_object_and_relationships() -> None:
    err = error_of("SELECT Id FROM Acount")
    assert err.error_code == "INVALID_TYPE"
    assert "ERROR at Row:1:Column:16\nsObject type 'Acount' is not supported." in err.message
    err = error_of("SELECT Acount.Name FROM Contact")
    assert err.error_code == "INVALID_FIELD"
    assert "Didn't understand relationship 'Acount' in field path." in err.message
    err = error_of("SELECT (SELECT Id FROM Opps) FROM Account")
    assert err.error_code == "INVALID_TYPE"
    assert "Didn't understand relationship 'Opps' in FROM part of query call." in err.message


def test_type_mismatches_offset_and_aggregates() -> None:
    err = error_of("SELECT Id FROM Opportunity WHERE CloseDate = '2024-01-31'")
    assert err.error_code == "INVALID_FIELD"
    assert err.message.endswith(
        "value of filter criterion for field 'CloseDate' must be of type date and should not "
        "be enclosed in quotes"
    )
    assert (
        "must be of type string and should be enclosed in quotes"
        in error_of("SELECT Id FROM Account WHERE Name = 5").message
    )
    err = error_of("SELECT Id FROM Account OFFSET 2001")
    assert (err.error_code, err.message) == (
        "NUMBER_OUTSIDE_VALID_RANGE",
        "Maximum SOQL offset allowed is 2000",
    )
    assert (
        "Field must be grouped or aggregated: Name"
        in error_of("SELECT COUNT(Id), Name FROM Account").message
    )
