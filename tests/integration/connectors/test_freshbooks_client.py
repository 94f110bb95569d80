"""The FreshBooks client against the sandbox: identity, paging, writes, callbacks, webhooks."""

from __future__ import annotations

import asyncio
import urllib.parse
from datetime import UTC
from decimal import Decimal

import pytest

from freshforce.connectors.freshbooks.client import RESOURCES
from freshforce.connectors.freshbooks.models import Client, Invoice, Money
from freshforce.connectors.freshbooks.signature import SIGNATURE_HEADER, verify_signature
from freshforce.errors import RecordGoneError

from .conftest import CONNECTION, FbWorld, Received

# The client does not touch the store: one backend is enough.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

CLIENTS, INVOICES = RESOURCES["clients"], RESOURCES["invoices"]


async def test_identity_names_the_account_and_business(fb_world: FbWorld) -> None:
    me = await (await fb_world.client()).identity()
    assert (me.account_id, me.business_id) == ("SBX7QK", 77001)


async def test_lists_page_at_100_with_one_call_per_page(fb_world: FbWorld) -> None:
    await fb_world.admin.post("/_sandbox/seed", json={"records": 250, "seed": 3})
    client = await fb_world.client()
    seen = [r async for page in client.list_all(CLIENTS) for r in page.records]
    assert len(seen) == len({r.id for r in seen}) == 250
    assert fb_world.counter.calls(CONNECTION) == 3
    assert all(isinstance(r, Client) and r.updated and r.updated.tzinfo is UTC for r in seen)


async def test_invoices_come_with_lines_and_decimal_money(fb_world: FbWorld) -> None:
    client = await fb_world.client()
    customer = await client.create(CLIENTS, {"email": "lines@example.com"})
    line = {"name": "Work", "qty": Decimal(4), "unit_cost": Money(Decimal("5.25"), "USD")}
    created = await client.create(
        INVOICES,
        {"customerid": customer.id, "create_date": "2026-01-15", "lines": [line, line]},
    )
    listed = [r async for page in client.list_all(INVOICES) for r in page.records]
    [invoice] = [r for r in listed if r.id == created.id]
    assert isinstance(invoice, Invoice)
    assert [ln.amount for ln in invoice.lines] == [Money(Decimal("21.00"), "USD")] * 2
    assert invoice.amount is not None
    assert invoice.amount.amount == Decimal("42.00")


async def test_a_sequence_search_value_is_an_in_filter(fb_world: FbWorld) -> None:
    client = await fb_world.client()
    made = [await client.create(CLIENTS, {"email": f"in{n}@example.com"}) for n in range(3)]
    wanted = [str(made[0].id), str(made[2].id)]
    page = await client.list_page(CLIENTS, search={"userids": wanted})
    assert sorted(r.id for r in page.records) == sorted(int(i) for i in wanted)
    [request] = (await fb_world.requests("/accounting/account/SBX7QK/users/clients"))[-1:]
    sent = urllib.parse.parse_qsl(request["query"])
    assert [v for k, v in sent if k == "search[userids][]"] == wanted


async def test_writes_never_mix_vis_state_with_fields(fb_world: FbWorld) -> None:
    client = await fb_world.client()
    created = await client.create(CLIENTS, {"email": "v@example.com", "fname": "Vi"})
    with pytest.raises(ValueError, match="vis_state"):
        await client.update(CLIENTS, created.id, {"fname": "Va", "vis_state": 2})
    updated = await client.update(CLIENTS, created.id, {"fname": "Va"})
    archived = await client.set_vis_state(CLIENTS, created.id, 2)
    assert isinstance(updated, Client)
    assert (updated.fname, archived.vis_state) == ("Va", 2)
    await client.delete(CLIENTS, created.id)
    assert (await client.get(CLIENTS, created.id)).vis_state == 1


async def test_invoice_delete_uses_http_delete(fb_world: FbWorld) -> None:
    client = await fb_world.client()
    customer = await client.create(CLIENTS, {"email": "d@example.com"})
    invoice = await client.create(
        INVOICES, {"customerid": customer.id, "create_date": "2026-01-02"}
    )
    await client.delete(INVOICES, invoice.id)
    deletes = [r for r in await fb_world.requests("/accounting") if r["method"] == "DELETE"]
    assert len(deletes) == 1
    with pytest.raises(RecordGoneError):
        await client.get(INVOICES, 10_000_000)


async def _drain(fb_world: FbWorld, got: list[Received], count: int) -> None:
    for _ in range(100):
        await fb_world.admin.post("/_sandbox/deliveries/drain", params={"wait_seconds": 1})
        if len(got) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"expected {count} deliveries, got {len(got)}")


async def test_callbacks_register_verify_list_delete_and_signatures(
    fb_world: FbWorld, receiver: tuple[str, list[Received]]
) -> None:
    uri, got = receiver
    client = await fb_world.client()
    callback = await client.register_callback("client.create", uri)
    assert not callback.verified
    await _drain(fb_world, got, 1)
    form = dict(pair.split("=", 1) for pair in got[0].body.decode().split("&"))
    verifier = form["verifier"]
    assert verify_signature(verifier, got[0].body, got[0].headers.get(SIGNATURE_HEADER))

    verified = await client.verify_callback(callback.id, verifier)
    assert verified.verified
    assert [c.id for c in await client.list_callbacks()] == [callback.id]

    await client.create(CLIENTS, {"email": "hook@example.com"})
    await _drain(fb_world, got, 2)
    body, signature = got[1].body, got[1].headers.get(SIGNATURE_HEADER)
    assert b"name=client.create" in body
    assert verify_signature(verifier, body, signature)
    assert not verify_signature(
        verifier, body.replace(b"client.create", b"client.delete"), signature
    )
    assert not verify_signature(verifier, body, None)
    assert not verify_signature(verifier, body, "")
    assert not verify_signature("not-the-verifier", body, signature)
    assert not verify_signature(verifier, b"\xff\xfe", signature)

    await client.delete_callback(callback.id)
    assert await client.list_callbacks() == []
