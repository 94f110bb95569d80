"""`freshforce run` in process: webhooks, polls and CDC become jobs its worker runs; stop drains."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc
import httpx
import pytest
import sqlalchemy as sa
from structlog.testing import capture_logs

from freshforce.engine import JobStatus
from freshforce.sandbox.salesforce.pubsub import PubSubControls, attach_pubsub
from freshforce.service import Service
from freshforce.store.connections import NewConnection, Tokens, save_connection
from freshforce.store.cursors import load_cursor
from freshforce.store.lease import lease_holder
from freshforce.store.schema import leases

from .conftest import FB, SF, Recorder, World, eventually, now

POLL_STREAMS = [
    "default:freshbooks/poll/clients",
    "default:salesforce/poll/Account/clients",
    "default:salesforce/poll/Contact/clients",
]


async def running(service: Service) -> tuple[asyncio.Event, asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(service.serve(stop))
    started = asyncio.create_task(service.started.wait())
    await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        started.cancel()
        task.result()  # raises why it did not start
    return stop, task


async def stopped(stop: asyncio.Event, task: asyncio.Task[None]) -> None:
    stop.set()
    await asyncio.wait_for(task, 30)


def holds(check: Callable[[], bool]) -> Callable[[], asyncio.Future[bool]]:
    async def probe() -> bool:
        return check()

    return probe  # type: ignore[return-value]


async def test_a_webhook_posted_to_the_running_service_becomes_a_job_the_worker_runs(
    world: World,
) -> None:
    recorder = Recorder()
    service, _ = await world.service(recorder, webhooks=True)
    stop, task = await running(service)
    try:
        fb = await service.runtime.freshbooks(FB)

        async def verified() -> bool:
            callbacks = await fb.list_callbacks()
            return bool(callbacks) and all(c.verified for c in callbacks)

        await eventually(verified, "the service to confirm the callback it registered")
        [callback] = await fb.list_callbacks()
        assert (callback.event, callback.uri) == ("client", f"{service.url}/webhooks/freshbooks/fb")
        client_id = await world.fb_create_client("hook@example.com")
        key = f"freshbooks/client/{client_id}"
        await eventually(holds(lambda: "webhook" in recorder.sources(key)), "the webhook's job")
    finally:
        await stopped(stop, task)
    assert service.scheduler.names == [
        "default:freshbooks/callbacks",
        *POLL_STREAMS,
        "tenants/scan",
    ]
    assert service.scheduler.failures("default:freshbooks/callbacks") == 0


async def test_callbacks_freshbooks_cannot_verify_are_reported(world: World) -> None:
    recorder = Recorder()
    service, _ = await world.service(recorder, public_url="http://127.0.0.1:9")  # nobody there
    service.callback_verify_seconds = 0.5
    with capture_logs() as logs:
        stop, task = await running(service)
        try:
            await eventually(
                holds(lambda: service.scheduler.runs("default:freshbooks/callbacks") >= 1),
                "the callback check",
            )
        finally:
            await stopped(stop, task)
    [failed] = [e for e in logs if e["event"] == "scheduled_task_failed"]
    assert failed["task"] == "default:freshbooks/callbacks"
    assert "FreshBooks callbacks not verified after 0.5 s: client" in failed["detail"]
    assert "is public_url reachable" in failed["detail"]


async def test_a_poll_tick_finds_changes_on_both_sides_and_the_worker_runs_them(
    world: World,
) -> None:
    recorder = Recorder()
    service, _ = await world.service(recorder, poll_interval_seconds=0.2)
    stop, task = await running(service)
    try:
        await eventually(
            holds(lambda: all(service.scheduler.runs(name) >= 1 for name in POLL_STREAMS)),
            "the first polls",
        )
        client_id = await world.fb_create_client("poll@example.com")
        account_id = await world.sf_create_account("Polled Ltd")
        fb_key, sf_key = f"freshbooks/client/{client_id}", f"salesforce/Account/{account_id}"
        await eventually(
            holds(
                lambda: "poll" in recorder.sources(fb_key) and "poll" in recorder.sources(sf_key)
            ),
            "the polled changes' jobs",
        )
        async with httpx.AsyncClient() as http:
            metrics = (await http.get(f"{service.url}/metrics")).text
        assert 'freshforce_jobs_finished_total{flow="clients",outcome="done"}' in metrics
        calls = {
            line.split('"')[1]: float(line.split()[-1])
            for line in metrics.splitlines()
            if line.startswith("freshforce_api_calls_total{")
        }
        assert calls["fb"] > 0  # the polls' calls, per connection
        assert calls["sf"] > 0
        used = [m for m in metrics.splitlines() if m.startswith("freshforce_salesforce_api_used{")]
        assert len(used) == 1  # one org heard from
        assert float(used[0].split()[-1]) > 0
    finally:
        await stopped(stop, task)
    assert all(service.scheduler.failures(name) == 0 for name in POLL_STREAMS)


async def test_listen_enqueues_without_running_jobs_and_holds_then_releases_the_poll_leases(
    world: World,
) -> None:
    recorder = Recorder()
    service, _ = await world.service(recorder, work=False, poll_interval_seconds=0.2)
    queue = service.runtime.queue()
    stop, task = await running(service)
    try:
        client_id = await world.fb_create_client("listen@example.com")
        key = f"freshbooks/client/{client_id}"

        async def pending() -> bool:
            return key in {j.key for j in await queue.jobs(status=JobStatus.PENDING, limit=1000)}

        await eventually(pending, "the polled change's job")
        async with service.runtime.engine.connect() as db:
            holder = await lease_holder(db, f"{FB}/freshbooks/poll/clients")
        assert holder is not None
    finally:
        await stopped(stop, task)
    assert recorder.jobs == []
    async with service.runtime.engine.connect() as db:
        assert await lease_holder(db, f"{FB}/freshbooks/poll/clients") is None
        assert await lease_holder(db, f"{SF}/salesforce/poll/Account/clients") is None


async def test_stop_lets_the_running_job_finish_then_closes_the_web_app(world: World) -> None:
    recorder = Recorder(hold=asyncio.Event())
    service, _ = await world.service(recorder, poll_interval_seconds=0.2)
    stop, task = await running(service)
    url = service.url
    await world.fb_create_client("drain@example.com")
    await asyncio.wait_for(recorder.entered.wait(), 20)
    with capture_logs() as logs:
        stop.set()
        await eventually(
            holds(lambda: any(e["event"] == "worker_stopping" for e in logs)), "the worker to stop"
        )
        assert recorder.hold is not None
        recorder.hold.set()  # the job held while the service was told to stop now ends
        await asyncio.wait_for(task, 30)
    first = recorder.jobs[0]
    jobs = {j.id: j for j in await service.runtime.queue().jobs(limit=1000)}
    assert jobs[first.id].status is JobStatus.DONE
    assert not [j for j in jobs.values() if j.status is JobStatus.RUNNING]
    assert [e["event"] for e in logs if e["event"].startswith("service_")] == ["service_stopped"]
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as http:
            await http.get(f"{url}/healthz")


async def test_a_salesforce_change_arrives_by_cdc_when_cdc_is_on(world: World) -> None:
    runner = attach_pubsub(
        world.sf, clock=world.sf_runtime.clock.now, controls=PubSubControls(keepalive_seconds=0.2)
    )
    serving = asyncio.create_task(runner.serve())
    await runner.wait_started()
    recorder = Recorder()
    service, _ = await world.service(recorder, cdc=True)
    service.pubsub_channel = lambda: grpc.aio.insecure_channel(runner.target)
    stop, task = await running(service)
    try:

        async def subscribed() -> bool:
            async with service.runtime.engine.connect() as db:
                stream = "salesforce/cdc/data/AccountChangeEvent"
                return await load_cursor(db, SF, stream) is not None

        await eventually(subscribed, "the Account change stream's first keepalive")
        account_id = await world.sf_create_account("Streamed Inc")
        key = f"salesforce/Account/{account_id}"
        await eventually(holds(lambda: "cdc" in recorder.sources(key)), "the change event's job")
    finally:
        await stopped(stop, task)
        runner.request_stop()
        await serving
    assert "default:salesforce/cdc/data/ContactChangeEvent" in service.scheduler.names


async def test_every_stream_is_leased_for_stream_lease_seconds(world: World) -> None:
    runner = attach_pubsub(
        world.sf, clock=world.sf_runtime.clock.now, controls=PubSubControls(keepalive_seconds=0.2)
    )
    serving = asyncio.create_task(runner.serve())
    await runner.wait_started()
    service, _ = await world.service(
        Recorder(), cdc=True, poll_interval_seconds=0.2, stream_lease_seconds=9
    )
    service.pubsub_channel = lambda: grpc.aio.insecure_channel(runner.target)
    cdc = f"{SF}/salesforce/cdc/data/AccountChangeEvent"
    poll = f"{FB}/freshbooks/poll/clients"

    async def expiries() -> dict[str, float]:
        async with service.runtime.engine.connect() as db:
            rows = await db.execute(sa.select(leases.c.name, leases.c.expires_at))
            return {r.name: (r.expires_at - now()).total_seconds() for r in rows}

    stop, task = await running(service)
    try:

        async def held() -> bool:
            return {cdc, poll} <= set(await expiries())

        await eventually(held, "the CDC stream's and the FreshBooks poll's leases")
        left = await expiries()
    finally:
        await stopped(stop, task)
        runner.request_stop()
        await serving
    assert [sub.config.lease_ttl.total_seconds() for sub in service.intake[0].subscribers] == [
        9.0,
        9.0,
    ]
    assert 0 < left[cdc] <= 9  # the default would leave up to 60 s
    assert 0 < left[poll] <= 9


async def test_a_tenant_without_its_pair_of_connections_is_not_watched(
    world: World,
) -> None:
    recorder = Recorder()
    service, _ = await world.service(recorder)
    other = NewConnection("fb-globex", "freshbooks", Tokens(None, None, None), tenant="globex")
    async with service.runtime.engine.begin() as db:
        await save_connection(db, service.runtime.cipher, other, now=now())
    with capture_logs() as logs:
        stop, task = await running(service)
        await stopped(stop, task)
    assert [t.tenant for t in service.intake] == ["default"]
    assert service.scheduler.names == [*POLL_STREAMS, "tenants/scan"]
    [skipped] = [e for e in logs if e["event"] == "tenant_not_watched"]
    assert skipped["tenant"] == "globex"


async def test_listeners_starting_together_register_each_callback_once(world: World) -> None:
    first, _ = await world.service(Recorder(), work=False, webhooks=True)
    url = first.runtime.settings.public_url
    second, _ = await world.service(Recorder(), work=False, public_url=url)
    slow_create = {"kind": "latency", "method": "POST", "latency_ms": 300}
    slow_create["path"] = "/events/account/*/events/callbacks"  # both checks overlap
    added = await world.fb_admin.post("/_sandbox/faults", json=slow_create)
    assert added.status_code == 201, added.text
    started = await asyncio.gather(running(first), running(second))
    try:
        fb = await first.runtime.freshbooks(FB)

        async def verified() -> bool:
            callbacks = await fb.list_callbacks()
            return bool(callbacks) and all(c.verified for c in callbacks)

        await eventually(verified, "the callback to be verified")
        await eventually(
            holds(
                lambda: all(
                    s.scheduler.runs("default:freshbooks/callbacks") for s in (first, second)
                )
            ),
            "both callback checks",
        )
    finally:
        for stop, task in started:
            await stopped(stop, task)
    assert [(c.event, c.uri) for c in await fb.list_callbacks()] == [
        ("client", f"{url}/webhooks/freshbooks/fb")
    ]


async def test_a_sync_request_event_arrives_on_a_configured_channel(world: World) -> None:
    runner = attach_pubsub(
        world.sf, clock=world.sf_runtime.clock.now, controls=PubSubControls(keepalive_seconds=0.2)
    )
    serving = asyncio.create_task(runner.serve())
    await runner.wait_started()
    recorder = Recorder()
    channel = "/event/FreshBooks_Sync_Request__e"
    service, _ = await world.service(
        recorder, platform_event_channels=[channel], platform_event_publish=["errors"]
    )
    service.pubsub_channel = lambda: grpc.aio.insecure_channel(runner.target)
    stop, task = await running(service)
    try:

        async def subscribed() -> bool:
            async with service.runtime.engine.connect() as db:
                return await load_cursor(db, SF, f"salesforce{channel}") is not None

        await eventually(subscribed, "the sync request channel's first keepalive")
        account_id = await world.sf_create_account("Requested Inc")
        body = {"Record_Id__c": account_id, "Action__c": "sync"}
        published = await world.sf_user.post(
            "/services/data/v59.0/sobjects/FreshBooks_Sync_Request__e/", json=body
        )
        assert published.status_code == 201, published.text
        key = f"salesforce/Account/{account_id}"
        await eventually(
            holds(lambda: "platform_event" in recorder.sources(key)), "the sync request's job"
        )
    finally:
        await stopped(stop, task)
        runner.request_stop()
        await serving
    assert f"default:salesforce{channel}" in service.scheduler.names
    assert "default:outbox" in service.scheduler.names
    assert service.scheduler.failures("default:outbox") == 0
    assert not any("/cdc/" in name for name in service.scheduler.names)  # cdc stays off


async def test_a_database_error_while_opening_intake_is_retried_not_fatal(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from freshforce.service import serve  # noqa: PLC0415 - the module patched here

    real = serve.open_intake
    calls = 0

    async def cut_once(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:  # the connection is cut while the listener starts
            raise sa.exc.OperationalError("SELECT connections", {}, OSError("terminating"))
        return await real(*args, **kwargs)

    monkeypatch.setattr(serve, "open_intake", cut_once)
    service, _ = await world.service(Recorder(), work=False, poll_interval_seconds=0.2)
    stop, task = await running(service)
    try:
        await eventually(holds(lambda: len(service.intake) == 1), "the intake opened on a retry")
        assert not task.done()
    finally:
        await stopped(stop, task)
    assert calls >= 2
