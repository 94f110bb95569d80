from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from freshforce.store.conflicts import Parked, park_conflict
from freshforce.store.events import NewEvent, record_events
from freshforce.store.linking import NewLink, create_link
from freshforce.store.schema import attempts, jobs
from freshforce.store.scope import Scope
from freshforce.store.trace import TraceQuery, trace_record
from freshforce.store.writelog import Echo, FieldWrite, record_echoes, record_field_writes

ACME = Scope("acme", "clients")
ACCOUNT, CONTACT = "001000000000001AAA", "003000000000001AAA"
T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


async def _job(db: AsyncConnection, key: str, at: datetime, tenant: str = "acme") -> int:
    row = {"tenant": tenant, "flow": "clients", "key": key, "status": "done", "run_at": at}
    statement = sa.insert(jobs).values(**row, created_at=at, updated_at=at).returning(jobs.c.id)
    job_id: int = (await db.execute(statement)).scalar_one()
    done = {"job_id": job_id, "attempt": 1, "started_at": at, "finished_at": at, "outcome": "done"}
    await db.execute(sa.insert(attempts).values(**done))
    return job_id


async def _story(engine: AsyncEngine) -> tuple[int, int]:
    """Client 42 edited in FreshBooks, written to Salesforce, its echo dropped, a conflict."""
    async with engine.begin() as db:
        link = await create_link(
            db, ACME, NewLink("42", ACCOUNT, CONTACT, keys=frozenset({"email:ann@acme.com"}))
        )
        assert link is not None
        await record_events(
            db,
            [
                NewEvent(
                    "webhook", "freshbooks", "client", "42", {"name": "client.update"}, "acme"
                ),
                NewEvent("webhook", "freshbooks", "invoice", "42", {}, "acme"),  # another record
                NewEvent("webhook", "freshbooks", "client", "42", {}, "globex"),  # another tenant
                NewEvent("cdc", "salesforce", "Contact", CONTACT, {}, "acme"),
            ],
            now=T0,
        )
        job_id = await _job(db, "freshbooks/client/42", T0 + timedelta(seconds=1))
        await _job(db, "freshbooks/invoice/42", T0)
        await _job(db, "freshbooks/client/42", T0, tenant="globex")
        write = FieldWrite("salesforce", "Contact", CONTACT, "Email", "a@x", "ann@acme.com")
        await record_field_writes(db, ACME, [write])
        await record_echoes(db, ACME, [Echo("salesforce", "Contact", CONTACT, job_id, "f" * 64)])
        await park_conflict(db, ACME, Parked(link.id, "Account.Phone", "1", "2", "3"))
    return link.id, job_id


async def test_a_record_is_traced_by_any_of_its_keys(store_engine: AsyncEngine) -> None:
    link_id, job_id = await _story(store_engine)
    queries = [
        TraceQuery(freshbooks_id="42", freshbooks_object="client"),
        TraceQuery(salesforce_id=CONTACT),
        TraceQuery(match_key="email:ann@acme.com"),
    ]
    async with store_engine.connect() as db:
        traces = [await trace_record(db, "acme", query) for query in queries]
    for trace in traces:
        assert [k.id for k in trace.links] == [link_id]
        assert [(e.source, e.object) for e in trace.events if e.system == "freshbooks"] in (
            [("webhook", "client")],
            [("webhook", "client"), ("webhook", "invoice")],  # without the object, both 42s
        )
        assert [e.source for e in trace.events if e.system == "salesforce"] == ["cdc", "echo"]
        assert [j.id for j in trace.jobs if j.key == "freshbooks/client/42"] == [job_id]
        [attempt] = [a for a in trace.attempts if a.job_id == job_id]
        assert (attempt.attempt, attempt.outcome, attempt.at) == (
            1,
            "done",
            T0 + timedelta(seconds=1),
        )
        assert [(w.field, w.after) for w in trace.field_writes] == [("Email", "ann@acme.com")]
        assert [c.parked.field for c in trace.conflicts] == ["Account.Phone"]
        times = [entry.at for entry in trace.timeline]
        assert times == sorted(times)
        assert {entry.kind for entry in trace.timeline} == {
            "event",
            "job",
            "attempt",
            "field_write",
            "conflict",
        }
    # Named by its object, client 42 keeps invoice 42 out.
    assert [j.key for j in traces[0].jobs] == ["freshbooks/client/42"]
    assert [e.object for e in traces[0].events if e.system == "freshbooks"] == ["client"]


async def test_an_unknown_record_has_an_empty_trace(store_engine: AsyncEngine) -> None:
    await _story(store_engine)
    async with store_engine.connect() as db:
        trace = await trace_record(db, "acme", TraceQuery(freshbooks_id="7"))
        other = await trace_record(db, "globex", TraceQuery(salesforce_id=CONTACT))
    assert trace.links == trace.events == trace.jobs == trace.field_writes == ()
    assert other.timeline == ()
