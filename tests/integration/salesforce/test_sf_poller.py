from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from freshforce.connectors.salesforce.governor import Priority
from freshforce.engine.queue import JobQueue
from freshforce.errors import LeaseLostError, TransientError
from freshforce.intake import PollTarget, SalesforcePoller, salesforce_poller
from freshforce.sandbox.core import FaultRule
from freshforce.store.cursors import load_cursor
from freshforce.store.schema import events, leases

TARGET = PollTarget("Account", "clients", ("Name",), Priority.CLIENTS)


async def count_events(conn, *, source: str) -> int:
    query = sa.select(sa.func.count()).select_from(events).where(events.c.source == source)
    return (await conn.execute(query)).scalar_one()


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def poller(sf, store_engine):
    queue = JobQueue(store_engine, clock=_now)
    return SalesforcePoller(sf.client, store_engine, queue, connection_id="sf-1", clock=_now), queue


async def create(sf, names: list[str]) -> list[str]:
    results = await sf.client.create(
        "Account", [{"Name": n} for n in names], priority=Priority.CLIENTS
    )
    return [r.id for r in results if r.id]


async def test_poll_stores_events_jobs_and_cursor_and_then_nothing(
    sf, store_engine, poller
) -> None:
    poll, queue = poller
    ids = await create(sf, [f"P {i}" for i in range(30)])
    first = await poll.poll(TARGET)
    assert first.new == first.read
    jobs = await queue.jobs(flow="clients", limit=10_000)
    keys = {j.key for j in jobs}
    assert {f"salesforce/Account/{i}" for i in ids} <= keys
    assert len(keys) == first.new
    async with store_engine.connect() as conn:
        assert await count_events(conn, source="poll") == first.new
        stored = await load_cursor(conn, "sf-1", TARGET.stream)
    assert stored is not None

    again = await poll.poll(TARGET)
    assert again.new == 0  # the overlap re-reads, the seen pairs drop
    assert again.read > 0

    await sf.client.update(
        "Account", [{"Id": ids[0], "Name": "P 0 renamed"}], priority=Priority.CLIENTS
    )
    third = await poll.poll(TARGET)
    assert third.new == 1
    async with store_engine.connect() as conn:
        assert await count_events(conn, source="poll") == first.new + 1


async def test_a_failed_page_keeps_the_stored_pages_and_resumes(sf, store_engine, poller) -> None:
    poll, queue = poller
    ids = await create(sf, [f"R {i}" for i in range(450)])
    small = PollTarget("Account", "clients", ("Name",))
    poll.page_size = 200
    sf.runtime.faults.add(FaultRule(kind="error", status=503, path="*/query/*", times=2))
    with pytest.raises(TransientError):
        await poll.poll(small)
    async with store_engine.connect() as conn:
        assert await count_events(conn, source="poll") == 200  # page one committed
    await poll.poll(small)
    async with store_engine.connect() as conn:
        total = await count_events(conn, source="poll")
    jobs = {j.key for j in await queue.jobs(flow="clients", limit=10_000)}
    assert {f"salesforce/Account/{i}" for i in ids} <= jobs
    assert total == len(jobs)  # no record stored twice


async def test_only_one_poller_per_stream_holds_the_lease(sf, store_engine) -> None:
    queue = JobQueue(store_engine, clock=_now)
    first = SalesforcePoller(sf.client, store_engine, queue, connection_id="sf-1", clock=_now)
    second = SalesforcePoller(sf.client, store_engine, queue, connection_id="sf-1", clock=_now)
    await create(sf, ["Lease A", "Lease B"])
    assert (await first.poll(TARGET)) is not None
    assert await second.poll(TARGET) is None  # the first still holds the stream
    async with store_engine.connect() as conn:
        polled = await count_events(conn, source="poll")
    await first.release(TARGET)
    taken = await second.poll(TARGET)
    assert taken is not None
    assert taken.read > 0
    async with store_engine.connect() as conn:
        assert await count_events(conn, source="poll") == polled  # nothing new, nothing twice


async def test_a_poller_that_lost_its_lease_commits_nothing(sf, store_engine, monkeypatch) -> None:
    queue = JobQueue(store_engine, clock=_now)
    poll = SalesforcePoller(sf.client, store_engine, queue, connection_id="sf-1", clock=_now)
    await create(sf, ["Lost 1"])
    async with store_engine.begin() as conn:  # another process took the stream over
        await conn.execute(
            leases.insert().values(
                name=poll.keeper(TARGET).name,
                holder="someone-else",
                expires_at=datetime(2999, 1, 1, tzinfo=UTC),
            )
        )
    assert await poll.poll(TARGET) is None
    poll.holder = "someone-else-too"
    async with store_engine.begin() as conn:
        await conn.execute(sa.update(leases).values(holder="someone-else-too"))
    # The lease is ours when the poll starts, then taken before the first page is stored.
    original = salesforce_poller.commit

    async def steal_then_commit(*args, **kwargs) -> None:
        async with store_engine.begin() as conn:
            await conn.execute(sa.update(leases).values(holder="thief"))
        await original(*args, **kwargs)

    monkeypatch.setattr(salesforce_poller, "commit", steal_then_commit)
    with pytest.raises(LeaseLostError):
        await poll.poll(TARGET)
    async with store_engine.connect() as conn:
        assert await count_events(conn, source="poll") == 0
        assert await load_cursor(conn, "sf-1", TARGET.stream) is None
