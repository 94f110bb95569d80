import random
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from freshforce.connectors.salesforce.bulk_csv import (
    build_upload,
    columns_of,
    match_results,
    parse_error,
    parse_rows,
)

ID = "001000000000001AAA"


def test_cells_quote_and_mark_nulls() -> None:
    records = [
        {"attributes": {"type": "Account"}, "Name": 'A "quoted", name', "Website": None},
        {"Name": "line\nbreak", "Active__c": True, "Amount": Decimal("1.50")},
        {"Name": "dated", "Day": date(2026, 1, 2), "At": datetime(2026, 1, 2, 3, tzinfo=UTC)},
    ]
    columns = columns_of(records)
    assert columns == ["Name", "Website", "Active__c", "Amount", "Day", "At"]
    [text] = build_upload(records, columns, max_bytes=10_000)
    assert text.startswith('Name,Website,Active__c,Amount,Day,At\n"A ""quoted"", name",#N/A,,,,\n')
    rows = parse_rows(text)
    assert rows[1] == {
        "Name": "line\nbreak",
        "Website": "",
        "Active__c": "true",
        "Amount": "1.50",
        "Day": "",
        "At": "",
    }
    assert rows[2]["At"] == "2026-01-02T03:00:00+00:00"


def test_a_nested_value_is_refused_with_its_place() -> None:
    with pytest.raises(ValueError, match="record 1 field 'Account'"):
        build_upload(
            [{"Name": "a"}, {"Account": {"Ext__c": "x"}}], ["Name", "Account"], max_bytes=99
        )


def test_uploads_split_under_the_size_limit_each_with_the_header() -> None:
    records = [{"Name": f"Record {i:03}"} for i in range(100)]
    files = build_upload(records, ["Name"], max_bytes=200)
    assert len(files) > 1
    assert all(len(f.encode()) <= 200 for f in files)
    assert all(f.startswith("Name\n") for f in files)
    assert [r["Name"] for f in files for r in parse_rows(f)] == [r["Name"] for r in records]


def test_parse_error_splits_code_message_fields() -> None:
    fault = parse_error("REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --")
    assert (fault.code, fault.message, fault.fields) == (
        "REQUIRED_FIELD_MISSING",
        "Required fields are missing: [Name]",
        ("Name",),
    )
    assert parse_error("DUPLICATE_EXTERNAL_ID:Account: more than one record found:--").fields == ()


def test_results_match_back_in_input_order_whatever_order_they_come() -> None:
    records = [{"Name": "same"}, {"Name": "bad"}, {"Name": "same"}, {"Name": "lost"}]
    ok = [
        {"sf__Id": ID[:15], "sf__Created": "true", "Name": "same"},
        {"sf__Id": "001000000000002", "sf__Created": "true", "Name": "same"},
    ]
    failed = [
        {"sf__Id": "", "sf__Error": "FIELD_CUSTOM_VALIDATION_EXCEPTION:No:Name --", "Name": "bad"}
    ]
    found = match_results(records, ["Name"], ok[::-1], failed)
    assert found[0] is not None
    assert found[2] is not None
    assert {found[0].id, found[2].id} == {ID, "001000000000002AAA"}
    assert found[1] is not None
    assert not found[1].success
    assert found[1].errors[0].code == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    assert found[3] is None


cells = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(alphabet=st.characters(blacklist_characters="\x00\r", blacklist_categories=("Cs",))),
)


@given(st.lists(st.dictionaries(st.sampled_from(["A", "B", "C"]), cells), min_size=1, max_size=20))
def test_every_record_finds_its_own_result(records: list[dict[str, object]]) -> None:
    columns = columns_of(records)
    if not columns:
        return
    echoed = [
        {"sf__Id": f"001{i:012}", "sf__Created": "true", **row}
        for i, f in enumerate(build_upload(records, columns, max_bytes=10**6))
        for row in parse_rows(f)
    ]
    for index, row in enumerate(echoed):
        row["sf__Id"] = f"001{index:012}"
    shuffled = echoed[:]
    random.Random(len(records)).shuffle(shuffled)
    found = match_results(records, columns, shuffled, [])
    assert all(r is not None and r.success for r in found)
    by_row = {r["sf__Id"]: {c: r[c] for c in columns} for r in echoed}
    for index, result in enumerate(found):
        assert result is not None
        assert result.id is not None
        assert by_row[result.id[:15]] == by_row[f"001{index:012}"]
