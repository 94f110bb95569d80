import datetime as dt
from decimal import Decimal

import pytest

from freshforce.sandbox.salesforce.soql import SoqlError, parse_soql, to_soql
from freshforce.sandbox.salesforce.soql_ast import (
    AndCondition,
    Comparison,
    CountCall,
    DateLiteral,
    DateTimeLiteral,
    FieldPath,
    InCondition,
    NotCondition,
    OrCondition,
    OrderItem,
    Query,
    RelativeDate,
)


def where(text: str):
    return parse_soql(f"SELECT Id FROM Account WHERE {text}").where  # noqa: S608 - SOQL under test


def test_keywords_are_case_insensitive_and_names_keep_their_casing() -> None:
    query = parse_soql("select id, account.NAME from opportunity order by name desc nulls last")
    assert query.select == (FieldPath(("id",)), FieldPath(("account", "NAME")))
    assert query.sobject == "opportunity"
    assert query.order_by == (OrderItem(FieldPath(("name",)), descending=True, nulls_last=True),)


def test_child_subquery_count_limit_offset() -> None:
    query = parse_soql(
        "SELECT Id, (SELECT Quantity FROM OpportunityLineItems WHERE Quantity > 1 LIMIT 2) "
        "FROM Opportunity LIMIT 10 OFFSET 5"
    )
    sub = query.select[1]
    assert isinstance(sub, Query)
    assert sub.sobject == "OpportunityLineItems"
    assert sub.where == Comparison(FieldPath(("Quantity",)), ">", Decimal(1))
    assert (sub.limit, query.limit, query.offset) == (2, 10, 5)
    assert parse_soql("SELECT COUNT() FROM Account").select == (CountCall(),)
    assert parse_soql("SELECT COUNT(Id) n FROM Account").select == (
        CountCall(FieldPath(("Id",)), "n"),
    )


def test_literals() -> None:
    utc = dt.UTC
    plus_one = dt.timezone(dt.timedelta(hours=1))
    assert where("a = 'it\\'s \\\\ \\n'") == Comparison(FieldPath(("a",)), "=", "it's \\ \n")
    assert where("a = -1.50").value == Decimal("-1.5")  # type: ignore[union-attr]
    assert where("a = null").value is None  # type: ignore[union-attr]
    assert where("a = TRUE").value is True  # type: ignore[union-attr]
    assert where("a = false").value is False  # type: ignore[union-attr]
    assert where("a = 2024-01-31").value == DateLiteral(dt.date(2024, 1, 31))  # type: ignore[union-attr]
    assert where("a = 2024-01-31T10:00:00Z").value == DateTimeLiteral(  # type: ignore[union-attr]
        dt.datetime(2024, 1, 31, 10, tzinfo=utc)
    )
    assert where("a = 2024-01-31T10:00:00+01:00").value == DateTimeLiteral(  # type: ignore[union-attr]
        dt.datetime(2024, 1, 31, 10, tzinfo=plus_one)
    )
    assert where("a = 2024-01-31T10:00:00.000+0000").value == DateTimeLiteral(  # type: ignore[union-attr]
        dt.datetime(2024, 1, 31, 10, tzinfo=utc)
    )
    assert where("a = today").value == RelativeDate("TODAY")  # type: ignore[union-attr]
    assert where("a > LAST_N_DAYS:30").value == RelativeDate("LAST_N_DAYS", 30)  # type: ignore[union-attr]
    assert where("a LIKE 'x\\%'").value == "x\\%"  # type: ignore[union-attr]


def test_boolean_structure() -> None:
    a, b, c = (Comparison(FieldPath((n,)), "=", Decimal(1)) for n in "abc")
    assert where("a = 1 AND b = 1 AND c = 1") == AndCondition((a, b, c))
    assert where("(a = 1 OR b = 1) AND NOT c = 1") == AndCondition(
        (OrCondition((a, b)), NotCondition(c))
    )
    assert where("a <> 1") == Comparison(FieldPath(("a",)), "!=", Decimal(1))
    assert where("a NOT IN (1, 'x')") == InCondition(
        FieldPath(("a",)), (Decimal(1), "x"), negated=True
    )


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("SELECT Id FORM Account", "FORM"),
        ("SELECT Id FROM Account WHERE a = 1 AND b = 1 OR c = 1", "OR"),
        ("SELECT Id FROM Account WHERE Name = Acme", "Acme"),
        ("SELECT Id FROM Account WHERE Name = 'open", "'"),
        ("SELECT Id FROM", "<EOF>"),
        ("SELECT Id FROM Account LIMIT 1.5", "1.5"),
    ],
)
def test_syntax_errors_point_at_the_token(text: str, token: str) -> None:
    column = len(text) + 1 if token == "<EOF>" else text.rindex(token) + 1
    with pytest.raises(SoqlError) as caught:
        parse_soql(text)
    err = caught.value
    assert err.error_code == "MALFORMED_QUERY"
    assert err.message == (
        f"\n{text}\n{' ' * (column - 1)}^\nERROR at Row:1:Column:{column}\n"
        f"unexpected token: '{token}'"
    )
    assert err.status == 400
    assert err.body() == [{"message": err.message, "errorCode": "MALFORMED_QUERY", "fields": []}]


def test_rows_are_counted_on_multi_line_queries() -> None:
    with pytest.raises(SoqlError) as caught:
        parse_soql("SELECT Id\nFROM Account\nWHERE Name === 'x'")
    assert "\nWHERE Name === 'x'\n" in caught.value.message
    assert "ERROR at Row:3:Column:13" in caught.value.message


def test_bad_escape_and_impossible_date_are_malformed() -> None:
    with pytest.raises(SoqlError, match=r"Illegal character sequence '\\q'"):
        parse_soql("SELECT Id FROM Account WHERE Name = 'a\\q'")
    with pytest.raises(SoqlError, match="ERROR at Row:1:Column:42") as caught:
        parse_soql("SELECT Id FROM Account WHERE CloseDate = 2024-02-30")
    assert caught.value.error_code == "MALFORMED_QUERY"


def test_printer_output_parses_back() -> None:
    text = (
        "SELECT Id, Account.Name, COUNT(Id) n, (SELECT Id FROM OpportunityLineItems) FROM "
        "Opportunity WHERE (a = 'x' OR NOT b IN (1, 2)) AND c >= 2024-01-31T10:00:00Z "
        "ORDER BY Name DESC NULLS LAST LIMIT 3 OFFSET 1"
    )
    query = parse_soql(text)
    assert parse_soql(to_soql(query)) == query
