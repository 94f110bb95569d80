"""The overview's listeners and drift panels, on rows made by the store's own functions."""

from __future__ import annotations

from datetime import timedelta

from web_support import login

from freshforce.intake.stream import Cursor
from freshforce.store.cursors import save_cursor
from freshforce.store.drift import record_reconcile
from freshforce.store.events import NewEvent, record_events
from freshforce.store.lease import acquire_lease

CDC = "salesforce/cdc/data/AccountChangeEvent"
POLL = "freshbooks/poll/clients"


async def test_listeners_show_holder_position_and_last_events(app_client, store_engine, clock):
    async with store_engine.begin() as db:
        assert await acquire_lease(db, f"sf-main/{CDC}", "host-a:41", ttl=timedelta(minutes=5))
        assert await acquire_lease(db, f"fb-main/{POLL}", "host-b:7", ttl=timedelta(seconds=-1))
        await save_cursor(db, "sf-main", CDC, Cursor("AAAAAAAAB2Q=").dump(), now=clock())
        await save_cursor(db, "fb-main", POLL, Cursor("2026-01-01T11:59:00Z").dump(), now=clock())
        new = [
            NewEvent("cdc", "salesforce", "Account", "001A", {}),
            NewEvent("poll", "freshbooks", "client", "7", {}),
            NewEvent("echo", "salesforce", "Account", "001A", {}),
        ]
        await record_events(db, new, now=clock())
    await login(app_client, "vic")
    view = (await app_client.get("/api/overview")).json()
    streams = {s["stream"]: s for s in view["listeners"]["streams"]}
    assert streams[CDC]["holder"] == "host-a:41"
    assert streams[CDC]["position"] == "AAAAAAAAB2Q="
    assert streams[CDC]["kind"] == "cdc"
    assert streams[POLL]["holder"] is None  # the lease lapsed: nobody holds the stream
    assert streams[POLL]["position"] == "2026-01-01T11:59:00Z"
    sources = [(e["system"], e["source"], e["count"]) for e in view["listeners"]["last_events"]]
    assert sources == [("freshbooks", "poll", 1), ("salesforce", "cdc", 1)]
    page = await app_client.get("/partials/overview")
    assert "host-a:41" in page.text
    assert "AAAAAAAAB2Q=" in page.text
    assert 'id="last-events"' in page.text


async def test_drift_shows_the_newest_reconcile_per_flow(app_client, store_engine, clock):
    async with store_engine.begin() as db:
        await record_reconcile(
            db, tenant="default", flow="clients", counts={"Account without a link": 2},
            samples={"Account without a link": ["Acme", "Initech"]}, repairs=2, now=clock(),
        )  # fmt: skip
        await record_reconcile(
            db, tenant="default", flow="clients", counts={}, samples={}, repairs=0,
            now=clock() + timedelta(hours=1),
        )  # fmt: skip
        await record_reconcile(
            db, tenant="acme", flow="clients", counts={"client gone": 1}, samples={}, repairs=0,
            now=clock(),
        )  # fmt: skip
    await login(app_client, "vic")
    drift = (await app_client.get("/api/overview")).json()["drift"]
    by_tenant = {d["tenant"]: d for d in drift}
    assert by_tenant["default"]["total"] == 0  # the newest run of that tenant found none
    assert by_tenant["acme"]["counts"] == {"client gone": 1}
    page = await app_client.get("/partials/overview")
    assert "client gone: 1" in page.text


async def test_empty_panels_explain_themselves(app_client):
    await login(app_client, "vic")
    view = (await app_client.get("/api/overview")).json()
    assert view["budget"] == {"known": False, "orgs": []}
    assert view["listeners"] == {"streams": [], "last_events": []}
    assert view["drift"] == []
    page = await app_client.get("/partials/overview")
    assert "No change stream has run yet" in page.text
    assert "No reconcile has run yet" in page.text
    assert "Shown by the process that calls Salesforce" in page.text
