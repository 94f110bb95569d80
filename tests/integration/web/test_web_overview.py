"""Overview, connections, alerts, probes, metrics and OpenAPI over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from pydantic import SecretStr
from web_support import bury_one, login

from freshforce.engine.queue import Settlement
from freshforce.store.alerts import raise_alert
from freshforce.store.conflicts import Parked, park_conflict
from freshforce.store.connections import (
    ConnectionStatus,
    NewConnection,
    Tokens,
    replace_tokens,
    save_connection,
    set_status,
)
from freshforce.store.crypto import TokenCipher, new_key
from freshforce.store.linking import NewLink, create_links
from freshforce.store.schema import jobs
from freshforce.store.scope import Scope
from freshforce.web import create_app

ACCESS = "access-token-never-shown"
REFRESH = "refresh-token-never-shown"


async def _connections(store_engine, clock) -> None:
    cipher = TokenCipher([SecretStr(new_key())])
    async with store_engine.begin() as db:
        for cid, system, expires in [
            ("fb-1", "freshbooks", clock() + timedelta(hours=5)),
            ("sf-1", "salesforce", clock() + timedelta(minutes=10)),
        ]:
            tokens = Tokens(SecretStr(ACCESS), SecretStr(REFRESH), expires)
            new = NewConnection(id=cid, system=system, tokens=tokens)  # type: ignore[arg-type]
            await save_connection(db, cipher, new, now=clock())
        await set_status(
            db, "fb-1", ConnectionStatus.PAUSED, reason="invalid_grant: reconnect", now=clock()
        )


async def test_overview_empty_states(app_client):
    await login(app_client, "vic")
    page = await app_client.get("/")
    assert page.status_code == 200
    assert "No jobs yet. Once flows run" in page.text
    assert "No connections yet" in page.text
    assert "No open alerts" in page.text
    assert 'hx-trigger="every 10s"' in page.text
    assert '<script src="/static/htmx.min.js"' in page.text
    view = (await app_client.get("/api/overview")).json()
    assert view["jobs_by_status"] == {"pending": 0, "running": 0, "done": 0, "dead": 0}
    assert view["jobs_by_flow"] == {}
    assert view["oldest_pending_age_seconds"] is None
    assert view["dead_letters_open"] == 0


async def test_overview_counts_jobs_connections_and_alerts(app_client, queue, clock, store_engine):
    await bury_one(queue, "invoices", "k:dead")
    async with store_engine.begin() as conn:
        await queue.enqueue(conn, "invoices", "k:1")
        await queue.enqueue(conn, "clients", "k:2")
    async with store_engine.begin() as conn:  # jobs are stamped by the database's clock
        await conn.execute(
            sa.update(jobs)
            .where(jobs.c.key == "k:1")
            .values(created_at=datetime.now(UTC) - timedelta(seconds=90))
        )
    clock.advance(90)
    await _connections(store_engine, clock)
    async with store_engine.begin() as conn:
        await raise_alert(conn, kind="auth_failed", message="fb-1 needs reconnecting", now=clock())
    await login(app_client, "vic")
    view = (await app_client.get("/api/overview")).json()
    assert view["jobs_by_status"] == {"pending": 2, "running": 0, "done": 0, "dead": 1}
    assert view["jobs_by_flow"]["invoices"] == {"pending": 1, "running": 0, "done": 0, "dead": 1}
    assert view["jobs_by_flow"]["clients"]["pending"] == 1
    assert 90.0 <= view["oldest_pending_age_seconds"] < 120.0
    assert view["dead_letters_open"] == 1
    health = {c["id"]: (c["status"], c["health"]) for c in view["connections"]}
    assert health == {"fb-1": ("paused", "paused"), "sf-1": ("active", "expiring")}
    [alert] = view["alerts_open"]
    assert alert["kind"] == "auth_failed"
    panel = await app_client.get("/partials/overview")
    assert panel.status_code == 200
    assert "<html" not in panel.text  # a fragment for htmx to swap in
    assert "invalid_grant: reconnect" in panel.text
    assert "fb-1 needs reconnecting" in panel.text
    for path in ("/", "/partials/overview", "/connections", "/api/connections", "/api/overview"):
        text = (await app_client.get(path)).text
        assert ACCESS not in text
        assert REFRESH not in text
        assert "_enc" not in text


async def test_connections_page(app_client, store_engine, clock):
    await login(app_client, "vic")
    assert "No connections yet" in (await app_client.get("/connections")).text
    await _connections(store_engine, clock)
    page = await app_client.get("/connections")
    assert "sf-1" in page.text
    assert "health-expiring" in page.text
    assert "never" in page.text  # no refresh yet
    clock.advance(3600)
    [_, sf] = (await app_client.get("/api/connections")).json()
    assert (sf["health"], sf["token_refreshed_at"]) == ("expired", None)
    tokens = Tokens(SecretStr(ACCESS), SecretStr(REFRESH), clock() + timedelta(hours=2))
    async with store_engine.begin() as db:
        cipher = TokenCipher([SecretStr(new_key())])
        assert await replace_tokens(db, cipher, "sf-1", tokens, expected_version=0, now=clock())
    [_, sf] = (await app_client.get("/api/connections")).json()
    assert (sf["health"], sf["token_refreshed_at"]) == ("ok", "2026-01-01T13:00:00+00:00")
    page = await app_client.get("/connections")
    assert "2026-01-01 13:00:00 UTC" in page.text


async def test_alerts_open_and_resolved(app_client, store_engine, clock):
    async with store_engine.begin() as conn:
        await raise_alert(conn, kind="one", message="still open", now=clock())
        resolved = await raise_alert(conn, kind="two", message="was fixed", now=clock())
        await conn.execute(
            sa.text("UPDATE alerts SET resolved_at = :t WHERE id = :i"),
            {"t": clock(), "i": resolved},
        )
    await login(app_client, "vic")
    open_ = (await app_client.get("/api/alerts")).json()
    assert [a["kind"] for a in open_] == ["one"]
    done = (await app_client.get("/api/alerts", params={"state": "resolved"})).json()
    assert [a["kind"] for a in done] == ["two"]
    everything = (await app_client.get("/api/alerts", params={"state": "all"})).json()
    assert {a["kind"] for a in everything} == {"one", "two"}
    assert (await app_client.get("/api/alerts", params={"state": "later"})).status_code == 422
    assert (await app_client.get("/alerts", params={"state": "later"})).status_code == 422
    page = await app_client.get("/alerts", params={"state": "resolved"})
    assert "was fixed" in page.text
    assert "still open" not in page.text


async def test_audit_page_empty_state_and_filter(app_client):
    await login(app_client, "vic")
    page = await app_client.get("/audit")
    assert "Nothing audited yet" in page.text
    assert (await app_client.get("/api/audit", params={"limit": 0})).status_code == 422


async def test_healthz_and_readyz(app_client):
    assert (await app_client.get("/healthz")).json() == {"status": "ok"}
    ready = await app_client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


async def test_readyz_refuses_an_unmigrated_database(engine, settings, clock):
    import httpx  # noqa: PLC0415

    app = create_app(engine, settings=settings, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.get("/readyz")
    assert answer.status_code == 503
    assert "freshforce db upgrade" in answer.json()["reason"]


async def test_metrics_read_the_store(app_client, queue):
    await bury_one(queue, "invoices", "k:1")
    await login(app_client, "olga", "wrong password")
    text = (await app_client.get("/metrics")).text
    assert 'freshforce_queue_jobs{flow="invoices",status="dead"} 1.0' in text
    assert "freshforce_dead_letters_open 1.0" in text
    assert 'freshforce_web_logins_total{outcome="failed"} 1.0' in text


async def test_openapi_documents_the_api_only(app_client):
    spec = (await app_client.get("/openapi.json")).json()
    paths = set(spec["paths"])
    assert "/api/dead-letters/{letter_id}/replay" in paths
    assert "/api/overview" in paths
    assert "/login" not in paths
    assert "/dead-letters" not in paths


async def test_overview_latency_per_flow_and_open_conflicts(app_client, queue, store_engine):
    taken = {"invoices/1": 1, "invoices/2": 2, "invoices/3": 10, "clients/1": 4, "old/1": 5}
    async with store_engine.begin() as db:
        for key in taken:
            await queue.enqueue(db, key.split("/")[0], key)
    done = await queue.claim("w1", len(taken))
    await queue.settle("w1", [Settlement(job, "done", 0.1) for job in done])
    async with store_engine.begin() as db:
        for key, seconds in taken.items():
            finished = datetime.now(UTC) - timedelta(hours=2 if key.startswith("old") else 0)
            await db.execute(
                sa.update(jobs)
                .where(jobs.c.key == key)
                .values(updated_at=finished, created_at=finished - timedelta(seconds=seconds))
            )
        [link] = await create_links(db, Scope("default", "clients"), [NewLink("9", "001X")])
        assert link is not None
        await park_conflict(
            db, Scope("default", "clients"), Parked(link.id, "email", "a", "b", "c")
        )
    await login(app_client, "vic")
    view = (await app_client.get("/api/overview")).json()
    assert view["conflicts_open"] == 1
    latency = {row["flow"]: row for row in view["latency_last_hour"]}
    assert set(latency) == {"clients", "invoices"}  # "old" finished two hours ago
    invoices = latency["invoices"]
    assert (invoices["done"], invoices["p50_seconds"], invoices["p99_seconds"]) == (3, 2.0, 10.0)
    assert (latency["clients"]["p50_seconds"], latency["clients"]["p99_seconds"]) == (4.0, 4.0)
    page = (await app_client.get("/")).text
    assert 'id="conflict-count">1<' in page
    assert "<td>invoices</td><td>3</td><td>2.0 s</td><td>10.0 s</td>" in page
