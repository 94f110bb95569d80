"""Sync requests published as platform events in Salesforce become jobs the real flows run."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import grpc
import pytest

from freshforce.connectors.salesforce import Priority
from freshforce.flows.clients import ClientsFlow
from freshforce.flows.invoices import invoices_flow
from freshforce.flows.sync_requests import rejected_requests_flow
from freshforce.intake.event_subscriber import EventChannelConfig, EventSubscriber
from freshforce.intake.stream import Cursor
from freshforce.sandbox.salesforce.pubsub import PubSubControls, attach_pubsub
from freshforce.service.event_check import missing_platform_events
from freshforce.store.cursors import save_cursor

from .conftest import FlowWorld
from .deals import deal, invoices_of

CHANNEL = "/event/FreshBooks_Sync_Request__e"
FLOWS = {"Account": "clients", "Contact": "clients", "Opportunity": "invoices"}


@pytest.fixture
async def listener(world: FlowWorld) -> AsyncIterator[EventSubscriber]:
    """A subscriber to the sync request channel of the sandbox org, starting at EARLIEST."""
    runner = attach_pubsub(
        world.salesforce_sandbox,
        clock=lambda: datetime.now(UTC),
        controls=PubSubControls(keepalive_seconds=0.2),
    )
    serving = asyncio.create_task(runner.serve())
    await runner.wait_started()
    async with grpc.aio.insecure_channel(runner.target) as channel:
        config = EventChannelConfig(CHANNEL, FLOWS)
        subscriber = await world.runtime.event_subscriber("sf-main", config, channel=channel)
        async with world.engine.begin() as db:
            stream = subscriber.stream
            await save_cursor(
                db, "sf-main", stream, Cursor("EARLIEST").dump(), now=datetime.now(UTC)
            )
        yield subscriber
    runner.request_stop()
    await serving


async def publish(world: FlowWorld, *requests: dict[str, str]) -> None:
    results = await world.salesforce.create(
        "FreshBooks_Sync_Request__e", list(requests), priority=Priority.CLIENTS
    )
    assert all(r.success for r in results), results


async def listen_until(subscriber: EventSubscriber, count: int) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(subscriber.run(stop))
    try:
        async with asyncio.timeout(20):
            while subscriber.events < count:  # noqa: ASYNC110 - polls a counter, not an event
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await task


async def test_requests_run_the_flows_and_garbage_is_a_dead_letter(
    world: FlowWorld, listener: EventSubscriber
) -> None:
    made = await deal(world, amount=250.0)
    unlinked = await world.salesforce.create(
        "Account", [{"Name": "Lone Account"}], priority=Priority.CLIENTS
    )
    lone = unlinked[0].id
    assert lone is not None
    await publish(
        world,
        {"Record_Id__c": made.opportunity_id, "Action__c": "invoice", "Requested_By__c": "rep"},
        {"Record_Id__c": made.opportunity_id, "Action__c": "invoice"},
        {"Record_Id__c": lone, "Action__c": "sync"},
        {"Record_Id__c": lone, "Action__c": "explode"},
        {"Record_Id__c": "not-an-id", "Action__c": "sync"},
    )
    await listen_until(listener, 5)

    maps = world.maps()
    clients = ClientsFlow(maps["clients"], world.runtime.pair, world.engine)
    await world.work([invoices_flow(world.runtime, maps), clients, rejected_requests_flow()])

    assert len(await invoices_of(world, made.client_id)) == 1  # two requests, one invoice
    opportunity = await world.opportunity(made.opportunity_id)
    assert opportunity["FreshBooks_Invoice_Id__c"]
    linked = await world.salesforce.get_by_ids(
        "Account", [lone], ["FreshBooks_Client_Id__c"], priority=Priority.CLIENTS
    )
    assert linked[lone]["FreshBooks_Client_Id__c"]  # the sync request linked it
    letters = await world.runtime.queue().dead_letters()
    reasons = sorted(letter.error_message or "" for letter in letters)
    assert all(letter.flow == "sync_requests" for letter in letters)
    assert reasons == [
        "sync request rejected: Action__c 'explode' is not one of sync, invoice, resync_account",
        "sync request rejected: Record_Id__c 'not-an-id' is no Salesforce id",
    ]


async def test_the_cursor_is_stored_with_the_jobs(
    world: FlowWorld, listener: EventSubscriber
) -> None:
    await publish(world, {"Record_Id__c": "001000000000001", "Action__c": "resync_account"})
    await listen_until(listener, 1)
    [job] = await world.jobs()
    assert job.flow == "clients"
    assert job.key.startswith("salesforce/Account/001000000000001")
    assert job.hints[0] == {
        "source": "platform_event",
        "action": "resync_account",
        "requested_by": "",
        "event_id": job.hints[0]["event_id"],  # type: ignore[index]
    }
    async with world.engine.connect() as db:
        stored = await listener.keeper.stream.load_cursor(db)
    assert stored is not None
    assert stored.position not in {"EARLIEST", "LATEST"}


async def test_missing_event_definitions_are_named(world: FlowWorld) -> None:
    seeded = await missing_platform_events(
        world.salesforce, channels=[CHANNEL], publish=["payments", "errors"]
    )
    assert seeded == []  # the sandbox org ships them
    body = {"name": "FreshBooks_Invoice_Event__e", "fields": [{"name": "Invoice_Id__c"}]}
    defined = await world.sf_admin.post("/_sandbox/salesforce/platform-events", json=body)
    assert defined.status_code == 201, defined.text
    problems = await missing_platform_events(
        world.salesforce, channels=["/event/Rep_Request__e"], publish=["invoices"]
    )
    assert problems[0].startswith("platform event Rep_Request__e is not defined in the org")
    assert "FreshBooks_Invoice_Event__e lacks Account_Id__c, Amount__c" in problems[1]
    assert len(problems) == 2
