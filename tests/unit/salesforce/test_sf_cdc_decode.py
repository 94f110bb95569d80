import io
import json

import fastavro
import pytest

from freshforce.connectors.salesforce.cdc_decode import (
    SchemaCache,
    decode_event,
    field_names_from_bitmap,
)
from freshforce.intake import CdcConfig

ADDRESS = {
    "type": "record",
    "name": "Address",
    "fields": [
        {"name": "Street", "type": ["null", "string"], "default": None},
        {"name": "City", "type": ["null", "string"], "default": None},
    ],
}
HEADER = {
    "type": "record",
    "name": "ChangeEventHeader",
    "fields": [
        {"name": "entityName", "type": "string"},
        {"name": "recordIds", "type": {"type": "array", "items": "string"}},
        {"name": "changeType", "type": "string"},
        {"name": "changeOrigin", "type": "string"},
        {"name": "changedFields", "type": {"type": "array", "items": "string"}},
    ],
}
SCHEMA = {
    "type": "record",
    "name": "AccountChangeEvent",
    "namespace": "com.sforce.eventbus",
    "fields": [
        {"name": "ChangeEventHeader", "type": HEADER},
        {"name": "Name", "type": ["null", "string"], "default": None},
        {"name": "BillingAddress", "type": ["null", ADDRESS], "default": None},
        {"name": "Website", "type": ["null", "string"], "default": None},
    ],
}


def test_bitmap_names_top_level_fields_and_compound_parts() -> None:
    fields = SCHEMA["fields"]
    assert field_names_from_bitmap(fields, ["0x0A"]) == ("Name", "Website")
    assert field_names_from_bitmap(fields, ["0x04", "2-0x02"]) == (
        "BillingAddress",
        "BillingAddress.City",
    )
    assert field_names_from_bitmap(fields, []) == ()


async def test_decode_and_schema_cache_fetches_once() -> None:
    calls: list[str] = []

    async def fetch(schema_id: str) -> str:
        calls.append(schema_id)
        return json.dumps(SCHEMA)

    cache = SchemaCache(fetch)
    schema, fields = await cache.get("s1")
    await cache.get("s1")
    assert calls == ["s1"]
    out = io.BytesIO()
    header = {
        "entityName": "Account",
        "recordIds": ["001000000000001AAA"],
        "changeType": "UPDATE",
        "changeOrigin": "com/salesforce/api/rest/59.0;client=freshforce",
        "changedFields": ["0x04", "2-0x02"],
    }
    record = {"ChangeEventHeader": header, "BillingAddress": {"City": "Lyon"}}
    fastavro.schemaless_writer(out, fastavro.parse_schema(SCHEMA), record)
    event = decode_event(out.getvalue(), b"\x01", schema, fields)
    assert event.origin_client == "freshforce"
    assert event.changed_fields == ("BillingAddress", "BillingAddress.City")
    assert event.values == {"BillingAddress": {"Street": None, "City": "Lyon"}}
    assert not event.is_gap


def test_batch_is_capped_at_100() -> None:
    with pytest.raises(ValueError, match=r"1\.\.100"):
        CdcConfig(topic="/data/ChangeEvents", flows={}, batch=101)
