import asyncio
import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mapping_support import flow_map, problems_of, write_flow

from freshforce.mapping import (
    Direction,
    FieldState,
    LookupKey,
    MappingRecordError,
    Policy,
    System,
    load_maps,
    map_records,
)

TO_SF, TO_FB = Direction.TO_SALESFORCE, Direction.TO_FRESHBOOKS
CLIENT = {
    "id": 12345,
    "organization": " Acme Ltd ",
    "fname": "Ada",
    "lname": "Lovelace",
    "email": " Ada@Acme.COM ",
    "bus_phone": "555-0100",
    "p_street": "1 Main St",
    "p_street2": "Suite 2",
    "p_city": "Toronto",
    "p_code": "m5v 1a1",
    "p_province": "on",
    "p_country": "Canada",
    "note": "Net 30",
}


@pytest.fixture(scope="module")
def maps():
    return load_maps(None)


def test_the_default_clients_map_fills_account_and_contact(maps) -> None:
    out = maps["clients"].apply(CLIENT, TO_SF)
    assert out.by_object() == {
        "Account": {
            "FreshBooks_Client_Id__c": "12345",
            "Name": "Acme Ltd",
            "Phone": "555-0100",
            "BillingStreet": "1 Main St\nSuite 2",
            "BillingCity": "Toronto",
            "BillingPostalCode": "M5V 1A1",
            "BillingState": "Ontario",
            "BillingCountry": "Canada",
            "Description": "Net 30",
            "Type": "Customer",
        },
        "Contact": {
            "FirstName": "Ada",
            "LastName": "Lovelace",
            "Email": "ada@acme.com",
            "MobilePhone": None,
        },
    }
    trace = out.traces["Contact.Email"]
    assert trace.source_fields == ("email",)
    assert trace.source_value == " Ada@Acme.COM "
    assert trace.steps == (("trim", "Ada@Acme.COM"), ("lower", "ada@acme.com"))
    assert trace.line == 41


def test_a_client_without_organisation_gets_its_person_name(maps) -> None:
    out = maps["clients"].apply({**CLIENT, "organization": ""}, TO_SF)
    assert out.values["Account.Name"] == "Ada Lovelace"
    assert out.traces["Account.Name"].default_used


def test_mapping_back_and_again_changes_nothing(maps) -> None:
    clients = maps["clients"]
    salesforce = clients.apply(CLIENT, TO_SF).by_object()
    freshbooks = clients.apply(salesforce, TO_FB).values
    again = clients.apply({**CLIENT, **freshbooks}, TO_SF).by_object()
    assert again == salesforce


def test_a_required_field_left_empty_fails_the_record_by_name(maps) -> None:
    with pytest.raises(MappingRecordError) as caught:
        maps["clients"].apply({"id": 9, "organization": " ", "fname": "", "lname": ""}, TO_SF)
    assert caught.value.record_key == "freshbooks/client/9"
    assert caught.value.flow == "clients"
    assert (
        "clients.yaml:28: rule 'Account.Name', record freshbooks/client/9: Account.Name is required"
        in caught.value.message
    )


def test_invoices_look_up_the_client_in_one_batch(maps) -> None:
    invoices = maps["invoices"]
    deals = [
        {
            "Opportunity": {
                "Id": f"006{n}",
                "AccountId": f"001{n % 2}",
                "CloseDate": "2026-03-08",
                "Name": f"Deal {n}",
            },
            "OpportunityLineItem": [{"Name": "Widget", "Quantity": 4, "UnitPrice": 5}],
        }
        for n in range(4)
    ]
    calls = []

    class Resolver:
        async def resolve(self, keys):
            calls.append(sorted(key.value for key in keys))
            return {key: "77" for key in keys if key.value == "0010"}

    results = asyncio.run(map_records(invoices, deals, TO_FB, resolver=Resolver()))
    assert calls == [["0010", "0011"]]
    assert results[0].values == {
        "customerid": 77,
        "create_date": "2026-03-08",
        "currency_code": "USD",
        "description": "Deal 0",
    }
    assert results[0].lines[0].values == {
        "name": "Widget",
        "description": None,
        "qty": "4.00",
        "unit_cost": {"amount": "5.00", "code": "USD"},
    }
    assert isinstance(results[1], MappingRecordError)
    assert "no Account with Id = '0011'" in results[1].message
    key = LookupKey(System.SALESFORCE, "Account", "Id", "0010", "FreshBooks_Client_Id__c")
    assert invoices.lookup_keys(deals[0], TO_FB) == {key}


def test_expressions_read_the_record_and_its_relatives(tmp_path) -> None:
    flow = flow_map(
        tmp_path,
        """
        - salesforce: Account.Name
          freshbooks: note
          direction: to_freshbooks
          expression: '"Industry: " & Industry & " / " & Contact.Email & " / " & $segment'
        - salesforce: Account.Description
          freshbooks: organization
          direction: to_freshbooks
          when: Contact.Email != null
        - salesforce: Account.Phone
          freshbooks: bus_phone
          direction: to_freshbooks
          expression: '$number(Phone) * 2'
        """,
        values="values:\n  segment: SMB\n",
    )
    record = {
        "Account": {"Id": "001X", "Industry": "Tech", "Description": "d", "Phone": "x"},
        "Contact": {"Email": "a@b.c"},
    }
    with pytest.raises(MappingRecordError) as caught:
        flow.apply(record, TO_FB)
    assert (
        "clients.yaml:13: rule 'Account.Phone', record salesforce/Account/001X: expression"
        in caught.value.message
    )
    record["Account"]["Phone"] = "21"
    out = flow.apply(record, TO_FB)
    assert out.values == {
        "note": "Industry: Tech / a@b.c / SMB",
        "organization": "d",
        "bus_phone": 42,
    }
    assert (
        "organization" not in flow.apply({"Account": {"Phone": "1"}, "Contact": {}}, TO_FB).values
    )


def test_profiles_override_named_values_and_change_the_hash(tmp_path) -> None:
    fields = "- {salesforce: Account.OwnerId, direction: to_salesforce, default: $owner}\n"
    values = "values:\n  owner: 005dev\nprofiles:\n  prod:\n    owner: 005prod\n"
    directory = write_flow(tmp_path, fields, values=values)
    dev, prod = load_maps(directory, profile="dev"), load_maps(directory, profile="prod")
    assert dev["clients"].apply({}, TO_SF).values["Account.OwnerId"] == "005dev"
    assert prod["clients"].apply({}, TO_SF).values["Account.OwnerId"] == "005prod"
    assert dev["clients"].content_hash != prod["clients"].content_hash
    assert (
        load_maps(directory, profile="dev")["clients"].content_hash == dev["clients"].content_hash
    )
    shipped = load_maps(None)["invoices"].content_hash
    assert dev["invoices"].content_hash != shipped  # the named values differ from the shipped ones


def test_compiled_maps_are_immutable(maps) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        maps["clients"].flow = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        maps["clients"].deletes[System.SALESFORCE] = "ignore"  # type: ignore[index]
    assert maps["clients"].deletes[System.SALESFORCE].value == "archive"
    assert maps["clients"].match[0].value == "stored_link"


def test_three_way_compare_per_field(maps) -> None:
    clients = maps["clients"]
    base = {
        "Account.Name": "Acme",
        "Contact.Email": "a@b.c",
        "Account.Phone": "1",
        "Account.Description": "x",
        "Account.BillingCity": "T",
    }
    freshbooks = {
        "Account.Name": "Acme Inc",
        "Contact.Email": "new@b.c",
        "Account.Phone": "1",
        "Account.Description": "y",
        "Account.BillingCity": "Paris",
    }
    salesforce = {
        "Account.Name": "Acme",
        "Contact.Email": "other@b.c",
        "Account.Phone": "2",
        "Account.Description": "y",
        "Account.BillingCity": "T",
    }
    result = clients.compare(base, freshbooks, salesforce)
    assert {name: c.state for name, c in result.items()} == {
        "Account.BillingCity": FieldState.FRESHBOOKS_CHANGED,
        "Account.Description": FieldState.BOTH_SAME,
        "Account.Name": FieldState.FRESHBOOKS_CHANGED,
        "Account.Phone": FieldState.SALESFORCE_CHANGED,
        "Contact.Email": FieldState.CONFLICT,
    }
    assert result["Contact.Email"].policy is Policy.REVIEW
    assert result["Account.Description"].policy is Policy.FRESHBOOKS_WINS
    first = clients.compare(None, {"Account.Name": "A"}, {"Account.Name": "B"})
    assert first["Account.Name"].state is FieldState.CONFLICT
    numbers = clients.compare(
        {"Account.Phone": Decimal("1.50")}, {"Account.Phone": "1.5"}, {"Account.Phone": 1.5}
    )
    assert numbers["Account.Phone"].state is FieldState.UNCHANGED


snapshot = st.dictionaries(
    st.sampled_from(["a", "b", "c"]), st.sampled_from([None, "", " ", "x", "y", "1.0", "1"])
)


@settings(max_examples=200, deadline=None)
@given(base=snapshot, ours=snapshot, theirs=snapshot)
def test_compare_is_symmetric_and_unchanged_means_equal(maps, base, ours, theirs) -> None:
    forward = maps["clients"].compare(base, ours, theirs)
    backward = maps["clients"].compare(base, theirs, ours)
    swap = {
        FieldState.FRESHBOOKS_CHANGED: FieldState.SALESFORCE_CHANGED,
        FieldState.SALESFORCE_CHANGED: FieldState.FRESHBOOKS_CHANGED,
    }
    for name, comparison in forward.items():
        assert backward[name].state == swap.get(comparison.state, comparison.state)
    unchanged = maps["clients"].compare(ours, ours, ours)
    assert all(c.state is FieldState.UNCHANGED for c in unchanged.values())


def test_apply_needs_one_direction(maps) -> None:
    with pytest.raises(ValueError, match="not both"):
        maps["clients"].apply(CLIENT, Direction.BOTH)


def test_payments_map_status_and_money(maps) -> None:
    summary = {
        "invoiceid": 55,
        "status": "overpaid",
        "amount_paid": {"amount": "120.005", "code": "USD"},
        "balance": {"amount": "-20", "code": "USD"},
        "last_payment_date": "2026-11-01",
    }
    out = maps["payments"].apply(summary, TO_SF)
    assert out.by_object()["Opportunity"] == {
        "FreshBooks_Invoice_Id__c": "55",
        "FreshBooks_Payment_Status__c": "Overpaid",
        "FreshBooks_Amount_Paid__c": Decimal("120.00"),
        "FreshBooks_Balance__c": Decimal("-20.00"),
        "FreshBooks_Last_Payment_Date__c": "2026-11-01",
    }


def test_a_template_default_applies_where_its_fields_are_read(tmp_path) -> None:
    flow = flow_map(
        tmp_path,
        '- {freshbooks: organization, salesforce: Account.Name, default: "{fname} {lname}"}\n'
        '- {freshbooks: note, salesforce: Account.Description, default: "{Contact.Email}"}\n',
    )
    assert flow.apply({"fname": "A", "lname": "B"}, TO_SF).values["Account.Name"] == "A B"
    back = flow.apply({"Account": {}, "Contact": {"Email": "x@y.z"}}, TO_FB).values
    assert back == {"organization": None, "note": "x@y.z"}
    assert flow.apply({}, TO_SF).values["Account.Description"] is None


def test_a_default_problem_is_reported_once_for_a_two_way_rule(tmp_path) -> None:
    problems = problems_of(
        tmp_path,
        "- {freshbooks: note, salesforce: Account.Description, default: $nope}\n"
        '- {freshbooks: note, salesforce: Account.Name, default: "{Industry} {fname}"}\n',
    )
    assert [(p.line, p.message) for p in problems] == [
        (4, "unknown named value $nope"),
        (5, "default names Industry, fname: not fields this rule reads from"),
    ]


def test_an_opportunity_expression_reads_its_line_items(tmp_path) -> None:
    flow = flow_map(
        tmp_path,
        """
        - freshbooks: notes
          salesforce: Opportunity.Description
          direction: to_freshbooks
          expression: '$string($sum(OpportunityLineItem.(Quantity * UnitPrice))) & " for " & Name'
        """,
        flow="invoices",
    )
    record = {
        "Opportunity": {"Id": "006A", "Name": "Deal"},
        "OpportunityLineItem": [{"Quantity": 2, "UnitPrice": 5}, {"Quantity": 1, "UnitPrice": 3}],
    }
    assert flow.apply(record, TO_FB).values == {"notes": "13 for Deal"}


text = st.text(st.sampled_from("abcXYZ é-'"), max_size=6)
client_records = st.fixed_dictionaries(
    {
        "id": st.integers(min_value=1, max_value=10**9),
        "organization": text,
        "fname": text,
        "lname": text.filter(str.strip),
        "email": text,
        "bus_phone": text,
        "p_street": text,
        "p_street2": text,
        "p_city": text,
        "p_code": text,
        "p_province": st.sampled_from(["", "on", "Quebec", "NY", "Narnia"]),
        "p_country": st.sampled_from(["", "Canada", "US", "Atlantis"]),
        "note": st.one_of(st.none(), text),
    }
)


@settings(max_examples=150, deadline=None)
@given(record=client_records)
def test_mapping_twice_changes_nothing(maps, record) -> None:
    clients = maps["clients"]
    salesforce = clients.apply(record, TO_SF).by_object()
    freshbooks = clients.apply(salesforce, TO_FB).values
    assert clients.apply({**record, **freshbooks}, TO_SF).by_object() == salesforce
