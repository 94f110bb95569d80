"""freshforce's own platform events: written with the fact, published once, seen by any client."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest

from freshforce.flows.announce import outbox_announce
from freshforce.flows.invoices import invoices_flow
from freshforce.flows.payments import payments_flow
from freshforce.flows.sync_requests import rejected_requests_flow
from freshforce.sandbox.salesforce.pubsub import PubSubControls, PubSubRunner, attach_pubsub
from freshforce.service.outbox import OutboxDrain
from freshforce.store.outbox import outbox_rows

from .conftest import FlowWorld
from .deals import deal, key

PROTO = Path(__file__).parents[3] / "src" / "freshforce" / "proto" / "pubsub_api.proto"
LISTENER = Path(__file__).with_name("pubsub_listener.py")
INVOICE_EVENT = "/event/FreshBooks_Invoice_Event__e"


@dataclass
class Bus:
    runner: PubSubRunner
    world: FlowWorld

    def drain(self, *kinds: str, holder: str = "") -> OutboxDrain:
        target = self.runner.target
        return OutboxDrain(
            self.world.runtime,
            frozenset(kinds),
            lambda: grpc.aio.insecure_channel(target),
            holder=holder,
        )

    async def seen(self, topic: str) -> list[dict[str, Any]]:
        """The events of ``topic`` as an unmodified, proto-generated client receives them."""
        sandbox = self.world.salesforce_sandbox
        token = sandbox.sessions.mint(sandbox.state.admin_user_id).access_token
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(LISTENER),
            str(PROTO),
            self.runner.target,
            token,
            sandbox.state.org_id,
            topic,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, err.decode()
        return [json.loads(line) for line in out.decode().splitlines() if line]


@pytest.fixture
async def bus(world: FlowWorld) -> AsyncIterator[Bus]:
    runner = attach_pubsub(
        world.salesforce_sandbox,
        clock=lambda: datetime.now(UTC),
        controls=PubSubControls(keepalive_seconds=0.3),
    )
    serving = asyncio.create_task(runner.serve())
    await runner.wait_started()
    yield Bus(runner, world)
    runner.request_stop()
    await serving


async def test_an_invoice_is_announced_once_even_when_the_publisher_died_after_the_write(
    world: FlowWorld, bus: Bus
) -> None:
    flow = invoices_flow(world.runtime, world.maps())
    flow.announce = outbox_announce(frozenset({"invoices"}), world.runtime.clock)
    made = await deal(world, amount=1200.0)
    await world.enqueue("invoices", key(made.opportunity_id))
    await world.work([flow])
    # The job is acked with its outbox row and nothing has been published: the state a worker
    # killed between the write and the publish leaves behind.
    async with world.engine.connect() as db:
        [row] = await outbox_rows(db)
    assert row.published_at is None

    await world.enqueue("invoices", key(made.opportunity_id))  # the deal changes again
    await world.work([flow])
    first = bus.drain("invoices")
    await first.run_once()
    await first.aclose()
    second = bus.drain("invoices")  # a restarted publisher finds nothing left to send
    await second.run_once()
    await second.aclose()
    assert (first.published, second.published) == (1, 0)

    [event] = await bus.seen(INVOICE_EVENT)
    opportunity = await world.opportunity(made.opportunity_id)
    assert event["Opportunity_Id__c"] == made.opportunity_id
    assert event["Account_Id__c"] == made.account_id
    assert event["Invoice_Id__c"] == opportunity["FreshBooks_Invoice_Id__c"]
    assert event["Invoice_Number__c"] == opportunity["FreshBooks_Invoice_Number__c"]
    assert event["Amount__c"] == 1200.0
    assert event["Event_Key__c"] == row.event_key
    async with world.engine.connect() as db:
        [row] = await outbox_rows(db)
    assert row.published_at is not None
    assert row.replay_id


async def test_a_dead_letter_is_announced_as_a_sync_error(world: FlowWorld, bus: Bus) -> None:
    await world.enqueue("sync_requests", "salesforce/FreshBooks_Sync_Request__e/ev-9")
    await world.work([rejected_requests_flow()])
    drain = bus.drain("errors")
    await drain.run_once()
    await drain.run_once()  # the cursor moved: the letter is copied and published once
    await drain.aclose()
    [event] = await bus.seen("/event/FreshForce_Sync_Error__e")
    assert event["Flow__c"] == "sync_requests"
    assert event["Record_Key__c"] == "salesforce/FreshBooks_Sync_Request__e/ev-9"
    assert "sync request rejected" in event["Reason__c"]


async def test_a_refused_event_stays_due_with_the_servers_reason(
    world: FlowWorld, bus: Bus
) -> None:
    flow = invoices_flow(world.runtime, world.maps())
    flow.announce = outbox_announce(frozenset({"invoices"}), world.runtime.clock)
    made = await deal(world, amount=10.0)
    await world.enqueue("invoices", key(made.opportunity_id))
    await world.work([flow])
    bus.runner.controls.unavailable = True
    drain = bus.drain("invoices")
    await drain.run_once()
    assert (drain.published, drain.failed) == (0, 1)
    async with world.engine.connect() as db:
        [row] = await outbox_rows(db)
    assert row.published_at is None
    assert row.last_error
    assert "unavailable" in row.last_error.lower()
    bus.runner.controls.unavailable = False
    await drain.run_once()
    await drain.aclose()
    assert drain.published == 1


async def test_a_payment_that_moves_a_deal_is_announced_with_its_amounts(
    world: FlowWorld, bus: Bus
) -> None:
    made = await deal(world, amount=300.0)
    await world.enqueue("invoices", key(made.opportunity_id))
    await world.work([invoices_flow(world.runtime, world.maps())])
    opportunity = await world.opportunity(made.opportunity_id)
    invoice_id = int(opportunity["FreshBooks_Invoice_Id__c"])
    flow = payments_flow(world.runtime, world.maps())
    flow.announce = outbox_announce(frozenset({"payments"}), world.runtime.clock)
    payment = await world.fb_pay(invoice_id, "100.00", date="2026-12-01")
    await world.enqueue("payments", f"freshbooks/payment/{payment['id']}")
    await world.work([flow])
    await world.enqueue("payments", f"freshbooks/payment/{payment['id']}")  # nothing new
    await world.work([flow])
    drain = bus.drain("payments")
    await drain.run_once()
    await drain.aclose()
    [event] = await bus.seen("/event/FreshBooks_Payment_Event__e")
    assert event["Opportunity_Id__c"] == made.opportunity_id
    assert event["Invoice_Id__c"] == str(invoice_id)
    assert event["Payment_Status__c"] == "Partially Paid"
    assert (event["Amount_Paid__c"], event["Balance__c"]) == (100.0, 200.0)
    assert event["Last_Payment_Date__c"] == "2026-12-01"


async def test_one_process_drains_a_tenant_at_a_time(world: FlowWorld, bus: Bus) -> None:
    first, second = bus.drain("errors", holder="host-a"), bus.drain("errors", holder="host-b")
    assert await first.run_once() is True
    assert await second.run_once() is False  # stands aside while host-a holds the lease
    await first.aclose()
    assert await second.run_once() is True
    await second.aclose()
