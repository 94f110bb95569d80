"""FreshBooks webhook deliveries from the sandbox, through intake: signed ones become jobs."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from freshforce.connectors.freshbooks.client import RESOURCES
from freshforce.connectors.freshbooks.signature import SIGNATURE_HEADER
from freshforce.engine import JobStatus
from freshforce.intake import WebhookOutcome, receive_freshbooks
from freshforce.store.schema import events

from .conftest import FbWorld, Received, now


async def _drain(got: list[Received], count: int) -> None:
    for _ in range(500):
        if len(got) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"expected {count} deliveries, got {len(got)}")


async def test_signed_deliveries_become_events_and_coalesced_jobs_forged_ones_nothing(
    fb_world: FbWorld, receiver: tuple[str, list[Received]]
) -> None:
    uri, got = receiver
    client = await fb_world.client()
    engine, queue = fb_world.engine, fb_world.runtime.queue()
    callback = await client.register_callback("client.update", uri)
    await _drain(got, 1)
    hello = await receive_freshbooks(engine, queue, got[0].body, None, None, now=now())
    assert hello.outcome is WebhookOutcome.VERIFY
    assert hello.verifier is not None
    await client.verify_callback(callback.id, hello.verifier)
    made = await client.create(RESOURCES["clients"], {"email": "hook@example.com"})
    for name in ("First", "Second"):
        await client.update(RESOURCES["clients"], made.id, {"fname": name})
    await _drain(got, 3)

    results = [
        await receive_freshbooks(
            engine, queue, r.body, r.headers.get(SIGNATURE_HEADER), hello.verifier, now=now()
        )
        for r in got[1:3]
    ]
    forged = got[1].body.replace(str(made.id).encode(), b"999999")
    refused = await receive_freshbooks(
        engine, queue, forged, got[1].headers.get(SIGNATURE_HEADER), hello.verifier, now=now()
    )

    assert [r.outcome for r in results] == [WebhookOutcome.STORED] * 2
    assert refused.outcome is WebhookOutcome.REFUSED
    pending = await queue.jobs(status=JobStatus.PENDING)
    assert [(j.flow, j.key) for j in pending] == [("clients", f"freshbooks/client/{made.id}")]
    async with engine.connect() as db:
        rows = (await db.execute(sa.select(events.c.source, events.c.record_id))).all()
    assert [tuple(r) for r in rows] == [("webhook", str(made.id))] * 2


async def test_an_invoice_delivery_also_feeds_the_mirror_flows(
    fb_world: FbWorld, receiver: tuple[str, list[Received]]
) -> None:
    uri, got = receiver
    client = await fb_world.client()
    engine, queue = fb_world.engine, fb_world.runtime.queue()
    callback = await client.register_callback("invoice.create", uri)
    await _drain(got, 1)
    hello = await receive_freshbooks(engine, queue, got[0].body, None, None, now=now())
    assert hello.verifier is not None
    await client.verify_callback(callback.id, hello.verifier)
    buyer = await client.create(RESOURCES["clients"], {"email": "buyer@example.com"})
    made = await client.create(RESOURCES["invoices"], {"customerid": buyer.id, "lines": []})
    await _drain(got, 2)

    stored = await receive_freshbooks(
        engine,
        queue,
        got[1].body,
        got[1].headers.get(SIGNATURE_HEADER),
        hello.verifier,
        now=now(),
        also={"invoice": ("mirror_invoices", "mirror_orders")},
    )

    assert stored.outcome is WebhookOutcome.STORED
    pending = await queue.jobs(status=JobStatus.PENDING)
    key = f"freshbooks/invoice/{made.id}"
    assert sorted((j.flow, j.key) for j in pending) == [
        ("mirror_invoices", key),
        ("mirror_orders", key),
        ("payments", key),
    ]
