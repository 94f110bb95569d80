import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from structlog.testing import capture_logs

from freshforce.connectors.salesforce.governor import Priority
from freshforce.engine.queue import JobQueue
from freshforce.errors import LeaseLostError
from freshforce.intake import (
    CdcConfig,
    CdcSubscriber,
    Cursor,
    Fallback,
    PollTarget,
)
from freshforce.sandbox.salesforce.pubsub import PubSubControls, attach_pubsub
from freshforce.sandbox.salesforce.pubsub.server import start_pubsub_server
from freshforce.store.cursors import load_cursor
from freshforce.store.lease import lease_holder
from freshforce.store.schema import events, leases

TOPIC = "/data/AccountChangeEvent"
API = "/services/data/v59.0"
INSTANCE = "https://sandbox.my.salesforce.com"


def now() -> datetime:
    return datetime.now(UTC)


async def eventually(check: Callable[[], Any], within: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        if await check():
            return
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


@dataclass
class Cdc:
    sf: Any
    engine: Any
    queue: JobQueue
    runner: Any
    channel: grpc.aio.Channel
    user_token: str
    port: int

    async def subscriber(
        self, holder: str = "listener-1", full_poll: Any = None, **config: Any
    ) -> CdcSubscriber:
        settings = {"topic": TOPIC, "flows": {"Account": "clients"}, "batch": 10} | config
        return await self.sf.app.cdc_subscriber(
            "sf-1",
            CdcConfig(**settings),
            channel=self.channel,
            holder=holder,
            full_poll=full_poll,
            sleep=lambda _s: asyncio.sleep(0.01),
        )

    async def user_write(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """A person's change in Salesforce: no Sforce-Call-Options client."""
        response = await self.sf.admin.request(
            method, API + path, json=body, headers={"Authorization": f"Bearer {self.user_token}"}
        )
        assert response.status_code in {200, 201, 204}, response.text
        return response.json() if response.content else {}

    async def raw_events(self) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(sa.select(events.c.record_id, events.c.payload))
            return [{"record_id": r.record_id, **r.payload} for r in rows]

    async def job_keys(self) -> set[str]:
        return {j.key for j in await self.queue.jobs(flow="clients", limit=10_000)}


@pytest.fixture
async def cdc(sf) -> AsyncIterator[Cdc]:
    controls = PubSubControls(keepalive_seconds=0.2)
    runner = attach_pubsub(sf.sandbox, clock=sf.runtime.clock.now, controls=controls)
    serving = asyncio.create_task(runner.serve())
    await runner.wait_started()
    user_token = sf.sandbox.sessions.mint(sf.sandbox.state.admin_user_id).access_token
    port = int(runner.target.rsplit(":", 1)[1])
    async with grpc.aio.insecure_channel(runner.target) as channel:
        yield Cdc(sf, sf.app.engine, sf.app.queue(), runner, channel, user_token, port)
    runner.request_stop()
    await serving


async def running(sub: CdcSubscriber) -> tuple[asyncio.Event, asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(sub.run(stop))
    await eventually(lambda: _true(sub.stats.subscriptions >= 1))
    await asyncio.sleep(0.3)  # the first keepalive: subscribed at LATEST
    return stop, task


async def _true(value: bool) -> bool:
    return value


async def stopped(stop: asyncio.Event, task: asyncio.Task[None]) -> None:
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_user_changes_become_jobs_and_our_echoes_are_dropped(cdc) -> None:
    sub = await cdc.subscriber()
    stop, task = await running(sub)
    created = await cdc.user_write("POST", "/sobjects/Account/", {"Name": "Acme"})
    await cdc.user_write("PATCH", f"/sobjects/Account/{created['id']}", {"BillingCity": "Lyon"})
    [ours] = await cdc.sf.client.create("Account", [{"Name": "Ours"}], priority=Priority.CLIENTS)
    await eventually(lambda: _true(sub.stats.events >= 3))
    await stopped(stop, task)
    assert sub.stats.echoes == 1
    assert await cdc.job_keys() == {f"salesforce/Account/{created['id']}"}  # coalesced
    raw = await cdc.raw_events()
    assert [(r["record_id"], r["change_type"]) for r in raw] == [
        (created["id"], "CREATE"),
        (created["id"], "UPDATE"),
    ]
    assert "BillingAddress.City" in raw[1]["changed_fields"]
    async with cdc.engine.connect() as conn:
        assert await load_cursor(conn, "sf-1", sub.stream) is not None
    assert ours.id not in {r["record_id"] for r in raw}


async def test_dropped_stream_resumes_at_the_stored_replay_id(cdc) -> None:
    sub = await cdc.subscriber()
    stop, task = await running(sub)
    ids = [
        (await cdc.user_write("POST", "/sobjects/Account/", {"Name": f"A{i}"}))["id"]
        for i in range(3)
    ]
    await eventually(lambda: _true(sub.stats.events >= 3))
    await cdc.runner._server.stop(grace=0)  # the stream drops
    ids += [
        (await cdc.user_write("POST", "/sobjects/Account/", {"Name": f"B{i}"}))["id"]
        for i in range(3)
    ]
    server = await start_pubsub_server(cdc.runner.service, host="127.0.0.1", port=cdc.port)
    try:
        await eventually(lambda: _true(sub.stats.events >= 6))
        await stopped(stop, task)
    finally:
        await server.stop(grace=0)
    assert sub.stats.subscriptions >= 2
    raw = await cdc.raw_events()
    assert [r["record_id"] for r in raw] == ids  # none lost, none repeated, in commit order


async def test_replay_id_past_retention_falls_back_and_resyncs(cdc) -> None:
    sub = await cdc.subscriber()
    stop, task = await running(sub)
    await cdc.user_write("POST", "/sobjects/Account/", {"Name": "Old"})
    await eventually(lambda: _true(sub.stats.events >= 1))
    await stopped(stop, task)
    await cdc.user_write("POST", "/sobjects/Account/", {"Name": "Missed"})
    answer = await cdc.sf.admin.put("/_sandbox/pubsub", json={"retention_seconds": 60})
    assert answer.status_code == 200
    cdc.sf.runtime.clock.advance(3600)  # everything retained has expired
    fresh = await cdc.user_write("POST", "/sobjects/Account/", {"Name": "After"})

    again = await cdc.subscriber(fallback=Fallback.EARLIEST)
    with capture_logs() as logs:
        stop, task = await running(again)
        await eventually(lambda: _true(again.stats.events >= 1))
        await stopped(stop, task)
    lost = [e for e in logs if e["event"] == "cdc_replay_lost"]
    assert lost == [
        {
            "event": "cdc_replay_lost",
            "topic": TOPIC,
            "fallback": "earliest",
            "resyncs": 1,
            "log_level": "warning",
        }
    ]
    assert again.stats.errors[0].endswith("replayid.corrupted")
    keys = await cdc.job_keys()
    assert "salesforce/Account/*" in keys  # the missed change is covered by a resync
    assert f"salesforce/Account/{fresh['id']}" in keys


async def test_replay_id_past_retention_can_fall_back_to_a_full_poll(cdc) -> None:
    sub = await cdc.subscriber()
    stop, task = await running(sub)
    await cdc.user_write("POST", "/sobjects/Account/", {"Name": "Old"})
    await eventually(lambda: _true(sub.stats.events >= 1))
    await stopped(stop, task)
    missed = await cdc.user_write("POST", "/sobjects/Account/", {"Name": "Missed"})
    await cdc.sf.admin.put("/_sandbox/pubsub", json={"retention_seconds": 60})
    cdc.sf.runtime.clock.advance(3600)
    poller = await cdc.sf.app.salesforce_poller("sf-1")

    async def full_poll(entity: str) -> object:
        return await poller.poll(PollTarget(entity, "clients", ("Name",)))

    again = await cdc.subscriber(full_poll=full_poll, fallback=Fallback.POLL)
    stop, task = await running(again)

    async def replayed_past_earliest() -> bool:
        async with cdc.engine.connect() as conn:
            stored = await load_cursor(conn, "sf-1", again.stream)
        return stored is not None and Cursor.load(stored).position != "EARLIEST"

    await eventually(replayed_past_earliest)  # the poll, then EARLIEST, then a replay id
    await stopped(stop, task)
    keys = await cdc.job_keys()
    assert f"salesforce/Account/{missed['id']}" in keys  # found by the poll, record by record
    assert "salesforce/Account/*" not in keys


async def test_gap_events_become_reconcile_and_resync_jobs(cdc) -> None:
    sub = await cdc.subscriber()
    stop, task = await running(sub)
    created = await cdc.user_write("POST", "/sobjects/Account/", {"Name": "Gap"})
    await eventually(lambda: _true(sub.stats.events >= 1))
    gap = {"entity": "Account", "change_type": "GAP_UPDATE", "record_ids": [created["id"]]}
    assert (await cdc.sf.admin.post("/_sandbox/pubsub/gaps", json=gap)).status_code == 201
    overflow = {"entity": "Account", "change_type": "GAP_OVERFLOW"}
    assert (await cdc.sf.admin.post("/_sandbox/pubsub/gaps", json=overflow)).status_code == 201
    await eventually(lambda: _true(sub.stats.events >= 3))
    await stopped(stop, task)
    assert await cdc.job_keys() == {f"salesforce/Account/{created['id']}", "salesforce/Account/*"}
    types = [r["change_type"] for r in await cdc.raw_events()]
    assert types == ["CREATE", "GAP_UPDATE", "GAP_OVERFLOW"]


async def test_only_one_listener_per_connection_and_stream(cdc) -> None:
    first = await cdc.subscriber(holder="host-a")
    stop, task = await running(first)
    with pytest.raises(LeaseLostError):
        await (await cdc.subscriber(holder="host-b")).run(asyncio.Event())
    await stopped(stop, task)  # a clean stop releases the lease
    second = await cdc.subscriber(holder="host-b")
    stop, task = await running(second)
    await stopped(stop, task)
    assert second.stats.subscriptions >= 1


async def test_expired_token_mid_stream_refreshes_and_continues(cdc) -> None:
    sub = await cdc.subscriber()
    stop, task = await running(sub)
    await cdc.runner._server.stop(grace=0)
    cdc.sf.sandbox.sessions.expire()  # our token dies while the stream is down
    server = await start_pubsub_server(cdc.runner.service, host="127.0.0.1", port=cdc.port)
    try:
        user_token = cdc.sf.sandbox.sessions.mint(cdc.sf.sandbox.state.admin_user_id).access_token
        cdc.user_token = user_token
        created = await cdc.user_write("POST", "/sobjects/Account/", {"Name": "Later"})
        await eventually(lambda: _true(sub.stats.events >= 1))
        await stopped(stop, task)
    finally:
        await server.stop(grace=0)
    assert cdc.sf.source.refreshes == 1
    assert f"salesforce/Account/{created['id']}" in await cdc.job_keys()


async def test_a_quiet_stream_keeps_its_lease_across_keepalive_gaps_longer_than_its_ttl(
    cdc,
) -> None:
    # Time compressed: a 1.5 s lease and keepalives 4 s apart, near the ratio of a 60 s lease
    # to Salesforce's keepalives of up to 270 s. Only the timer keeps the lease alive here.
    ttl = timedelta(seconds=1.5)
    answer = await cdc.sf.admin.put("/_sandbox/pubsub", json={"keepalive_seconds": 4.0})
    assert answer.status_code == 200
    first = await cdc.subscriber(holder="host-a", lease_ttl=ttl)
    stop, task = await running(first)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5.0  # a whole keepalive gap, more than twice the TTL, and more
    stood_aside = 0
    while loop.time() < deadline:
        async with cdc.engine.connect() as conn:
            assert await lease_holder(conn, first.lease_name) == "host-a"
        with pytest.raises(LeaseLostError):  # the second listener stands aside throughout
            await (await cdc.subscriber(holder="host-b", lease_ttl=ttl)).run(asyncio.Event())
        stood_aside += 1
        await asyncio.sleep(0.1)
    assert not task.done()
    assert first.keeper.renewals >= 8  # renewed on the timer, with no traffic to ride on
    created = await cdc.user_write("POST", "/sobjects/Account/", {"Name": "After the quiet"})
    await eventually(lambda: _true(first.stats.events >= 1))
    await stopped(stop, task)
    assert stood_aside >= 10
    assert f"salesforce/Account/{created['id']}" in await cdc.job_keys()


async def test_a_failed_renewal_stops_the_stream(cdc) -> None:
    sub = await cdc.subscriber(holder="host-a", lease_ttl=timedelta(seconds=0.6))
    stop, task = await running(sub)
    with capture_logs() as logs:  # from before the takeover: the keeper may notice at once
        async with cdc.engine.begin() as conn:  # another process took the stream over
            await conn.execute(
                sa.update(leases)
                .where(leases.c.name == sub.lease_name)
                .values(holder="host-b", expires_at=datetime(2999, 1, 1, tzinfo=UTC))
            )
        with pytest.raises(LeaseLostError):
            await asyncio.wait_for(task, 5)
    assert "lease_lost" in [e["event"] for e in logs]
    await cdc.user_write("POST", "/sobjects/Account/", {"Name": "Not ours any more"})
    await asyncio.sleep(0.5)
    assert sub.stats.events == 0  # the stream was closed: nothing more was read or stored
    assert await cdc.raw_events() == []
    async with cdc.engine.connect() as conn:
        assert await lease_holder(conn, sub.lease_name) == "host-b"  # not released
    stop.set()


async def test_a_dead_listeners_stream_is_taken_over_at_its_stored_replay_id(cdc) -> None:
    ttl = timedelta(seconds=1)
    first = await cdc.subscriber(holder="host-a", lease_ttl=ttl)

    async def crash() -> None:  # SIGKILL: the lease is never given up
        return

    first.keeper.release = crash  # type: ignore[method-assign]
    stop, task = await running(first)
    ids = [
        (await cdc.user_write("POST", "/sobjects/Account/", {"Name": f"A{i}"}))["id"]
        for i in range(2)
    ]
    await eventually(lambda: _true(first.stats.events >= 2))
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    # The dead holder's lease runs on (set, not left to the clock: a loaded machine may take
    # longer than the TTL to get here), then expires below.
    await _lease_expires(cdc, first.lease_name, datetime.now(UTC) + timedelta(minutes=5))
    async with cdc.engine.connect() as conn:
        assert await lease_holder(conn, first.lease_name) == "host-a"  # still, until it expires
    ids += [  # written while no process listens
        (await cdc.user_write("POST", "/sobjects/Account/", {"Name": f"B{i}"}))["id"]
        for i in range(3)
    ]
    second = await cdc.subscriber(holder="host-b", lease_ttl=ttl)
    with pytest.raises(LeaseLostError):  # the dead holder's lease has not expired yet
        await second.run(asyncio.Event())
    await _lease_expires(cdc, first.lease_name, datetime.now(UTC) - timedelta(seconds=1))
    stop, task = await running(second)
    await eventually(lambda: _true(second.stats.events >= 3))
    await stopped(stop, task)
    raw = await cdc.raw_events()
    assert [r["record_id"] for r in raw] == ids  # none lost, none repeated, in commit order
    assert second.stats.events == 3


async def _lease_expires(cdc: Any, name: str, at: datetime) -> None:
    async with cdc.engine.begin() as conn:
        await conn.execute(sa.update(leases).where(leases.c.name == name).values(expires_at=at))
