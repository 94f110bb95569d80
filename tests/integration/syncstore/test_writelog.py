from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.store.scope import Scope
from freshforce.store.trace import TraceQuery, trace_record
from freshforce.store.writelog import Echo, FieldWrite, record_echoes, record_field_writes

ACME = Scope("acme", "clients")
ACCOUNT = "001000000000001AAA"


async def test_a_field_write_keeps_its_values_and_transform_trace(
    store_engine: AsyncEngine,
) -> None:
    steps = ({"transform": "trim", "in": " Acme ", "out": "Acme"},)
    write = FieldWrite(
        "salesforce", "Account", ACCOUNT, "Name", "Old", "Acme", " Acme ", steps, job_id=9
    )
    async with store_engine.begin() as db:
        await record_field_writes(db, ACME, [write])
        await record_field_writes(db, ACME, [])
    async with store_engine.connect() as db:
        [stored] = (await trace_record(db, "acme", TraceQuery(salesforce_id=ACCOUNT))).field_writes
    assert stored.at is not None
    assert stored == FieldWrite(
        "salesforce", "Account", ACCOUNT, "Name", "Old", "Acme", " Acme ", steps, None, 9, stored.at
    )


async def test_a_dropped_echo_is_an_event_naming_the_job(store_engine: AsyncEngine) -> None:
    echo = Echo("freshbooks", "client", "42", 7, "a" * 64, {"rate": str(Decimal("1.25"))})
    async with store_engine.begin() as db:
        await record_echoes(db, ACME, [echo])
    async with store_engine.connect() as db:
        [event] = (await trace_record(db, "acme", TraceQuery(freshbooks_id="42"))).events
    assert event.source == "echo"
    assert event.payload == {
        "rate": "1.25",
        "flow": "clients",
        "job_id": 7,
        "fingerprint": "a" * 64,
    }
