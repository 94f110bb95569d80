"""Change event schemas and payloads: shape, ids, and what each change type carries."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from freshforce.sandbox.salesforce.avro import (
    CdcEntity,
    CdcField,
    change_event_schema,
    decode_payload,
    encode_change,
    platform_event_schema,
)
from freshforce.sandbox.salesforce.bitmap import decode_bitmap
from freshforce.sandbox.salesforce.changes import ChangeRecord

ADDRESS = tuple(
    CdcField(part, "string", source=f"Billing{part}")
    for part in ("Street", "City", "State", "PostalCode", "Country")
)
ACCOUNT = CdcEntity(
    "Account",
    (
        CdcField("Name", "string"),
        CdcField("BillingAddress", "compound", ADDRESS),
        CdcField("NumberOfEmployees", "int"),
        CdcField("AnnualRevenue", "double"),
        CdcField("IsActive__c", "boolean"),
        CdcField("SLAExpirationDate__c", "date"),
        CdcField("LastModifiedDate", "datetime"),
    ),
)


def change(**overrides: object) -> ChangeRecord:
    base: dict[str, object] = {
        "replay_id": 1,
        "entity_name": "Account",
        "change_type": "CREATE",
        "record_ids": ("001000000000001AAA",),
        "change_origin": "com/salesforce/api/rest/59.0;client=freshforce",
        "transaction_key": "0001-tx",
        "sequence_number": 1,
        "commit_timestamp_ms": 1_700_000_000_000,
        "commit_number": 42,
        "commit_user": "005000000000001AAA",
    }
    base.update(overrides)
    return ChangeRecord(**base)  # type: ignore[arg-type]


def test_schema_shape_follows_salesforce() -> None:
    schema = change_event_schema(ACCOUNT)
    parsed = json.loads(schema.schema_json)
    assert parsed["name"] == "AccountChangeEvent"
    assert parsed["namespace"] == "com.sforce.eventbus"
    names = [f["name"] for f in parsed["fields"]]
    assert names[0] == "ChangeEventHeader"
    header = [f["name"] for f in parsed["fields"][0]["type"]["fields"]]
    assert header == [
        "entityName",
        "recordIds",
        "changeType",
        "changeOrigin",
        "transactionKey",
        "sequenceNumber",
        "commitTimestamp",
        "commitNumber",
        "commitUser",
        "nulledFields",
        "diffFields",
        "changedFields",
    ]
    modified = parsed["fields"][names.index("LastModifiedDate")]
    assert modified == {
        "name": "LastModifiedDate",
        "type": ["null", "long"],
        "default": None,
        "doc": "LastModifiedDate:DateTime",
    }
    address = parsed["fields"][names.index("BillingAddress")]
    assert address["type"][0] == "null"
    assert address["default"] is None


def test_schema_id_is_stable_and_follows_the_fields() -> None:
    first = change_event_schema(ACCOUNT).schema_id
    assert first == change_event_schema(ACCOUNT).schema_id
    wider = CdcEntity("Account", (*ACCOUNT.fields, CdcField("Phone", "string")))
    assert change_event_schema(wider).schema_id != first


def test_create_carries_every_field() -> None:
    schema = change_event_schema(ACCOUNT)
    record = change(
        fields={
            "Name": "Acme",
            "BillingCity": "Lyon",
            "NumberOfEmployees": 12,
            "AnnualRevenue": 5,
            "IsActive__c": True,
            "SLAExpirationDate__c": "1970-01-11",
            "LastModifiedDate": "2023-11-14T22:13:20.000+0000",
        }
    )
    event = decode_payload(schema, encode_change(schema, record))
    assert event["Name"] == "Acme"
    assert event["BillingAddress"]["City"] == "Lyon"
    assert event["BillingAddress"]["Street"] is None
    assert event["AnnualRevenue"] == 5.0
    assert event["SLAExpirationDate__c"] == 10
    assert event["LastModifiedDate"] == 1_700_000_000_000
    header = event["ChangeEventHeader"]
    assert header["changeType"] == "CREATE"
    assert header["changeOrigin"].endswith(";client=freshforce")
    assert header["recordIds"] == ["001000000000001AAA"]


def test_update_nulls_unchanged_fields_and_maps_bitmaps() -> None:
    schema = change_event_schema(ACCOUNT)
    record = change(
        change_type="UPDATE",
        fields={"BillingCity": "Paris", "NumberOfEmployees": None, "LastModifiedDate": 1},
        changed_fields=("BillingCity", "NumberOfEmployees", "LastModifiedDate"),
        nulled_fields=("NumberOfEmployees",),
    )
    event = decode_payload(schema, encode_change(schema, record))
    assert event["Name"] is None
    assert event["BillingAddress"] == {
        "Street": None,
        "City": "Paris",
        "State": None,
        "PostalCode": None,
        "Country": None,
    }
    header = event["ChangeEventHeader"]
    assert header["changedFields"] == ["0x88", "2-0x02"]
    assert decode_bitmap(schema.layout, header["changedFields"]) == [
        "NumberOfEmployees",
        "LastModifiedDate",
        "BillingAddress.City",
    ]
    assert decode_bitmap(schema.layout, header["nulledFields"]) == ["NumberOfEmployees"]


def test_delete_and_gaps_carry_the_header_only() -> None:
    schema = change_event_schema(ACCOUNT)
    for change_type in ("DELETE", "GAP_UPDATE"):
        record = change(change_type=change_type, fields={"Name": "ignored"})
        event = decode_payload(schema, encode_change(schema, record))
        assert event["ChangeEventHeader"]["changeType"] == change_type
        assert all(value is None for key, value in event.items() if key != "ChangeEventHeader")


def test_a_wrong_value_names_the_field() -> None:
    schema = change_event_schema(ACCOUNT)
    with pytest.raises(ValueError, match=r"Account\.NumberOfEmployees: cannot encode 'many'"):
        encode_change(schema, change(fields={"NumberOfEmployees": "many"}))
    with pytest.raises(ValueError, match="not the Contact change event"):
        encode_change(schema, change(entity_name="Contact"))


def test_garbage_payload_is_refused() -> None:
    schema = change_event_schema(ACCOUNT)
    with pytest.raises(ValueError, match="does not match schema"):
        decode_payload(schema, b"\xff\xff\xff")


def test_platform_event_schema() -> None:
    schema = platform_event_schema("Order_Placed__e", (CdcField("Amount__c", "double"),))
    parsed = json.loads(schema.schema_json)
    assert [f["name"] for f in parsed["fields"]] == ["CreatedDate", "CreatedById", "Amount__c"]
    with pytest.raises(ValueError, match="must end in '__e'"):
        platform_event_schema("Order_Placed", ())


optional_text = st.one_of(st.none(), st.text(max_size=40))
account_values = st.fixed_dictionaries(
    {
        "Name": optional_text,
        "BillingCity": optional_text,
        "NumberOfEmployees": st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1)),
        "AnnualRevenue": st.one_of(st.none(), st.floats(allow_nan=False)),
        "IsActive__c": st.one_of(st.none(), st.booleans()),
        "LastModifiedDate": st.integers(min_value=0, max_value=2**53),
    }
)


@given(account_values)
def test_create_values_round_trip(fields: dict[str, object]) -> None:
    schema = change_event_schema(ACCOUNT)
    event = decode_payload(schema, encode_change(schema, change(fields=fields)))
    assert event["BillingAddress"]["City"] == fields["BillingCity"]
    for name in ("Name", "NumberOfEmployees", "AnnualRevenue", "IsActive__c", "LastModifiedDate"):
        assert event[name] == fields[name]
