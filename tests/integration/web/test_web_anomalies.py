"""The anomalies page and API: viewers see held writes, operators accept or reject them."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from web_support import csrf, login

from freshforce.assist.guard import BaselineGuard
from freshforce.engine.guard import Finding, Guarded, PlannedWrite
from freshforce.store.schema import audit_log, jobs

WHY = "payment 7 of 80.00 USD is above the 50.00 USD outstanding on invoice 0001"


async def _held(store_engine, key: str = "freshbooks/invoice/12") -> int:
    """Hold one write the way a flow does: ask the learning guard."""
    finding = Finding("payment_over_outstanding", Guarded.HOLD, WHY)
    write = PlannedWrite(
        "default", "payments", key, "3", {"paid": Decimal(80)}, findings=(finding,)
    )
    assert (await BaselineGuard(store_engine).check(write)).held
    async with store_engine.connect() as db:
        return int((await db.execute(sa.text("SELECT max(id) FROM anomalies"))).scalar_one())


async def test_a_viewer_sees_held_writes_but_cannot_settle_them(app_client, store_engine):
    ident = await _held(store_engine)
    await login(app_client, "vic")
    token = await csrf(app_client)

    page = await app_client.get("/anomalies")
    assert page.status_code == 200
    assert WHY in page.text
    assert "Operators accept or reject." in page.text
    listed = (await app_client.get("/api/anomalies")).json()
    assert [(a["id"], a["status"], a["reasons"]) for a in listed] == [(ident, "open", [WHY])]
    form = {"csrf_token": token}
    assert (await app_client.post(f"/anomalies/{ident}/accept", data=form)).status_code == 403
    api = await app_client.post(f"/api/anomalies/{ident}/accept", headers={"X-CSRF-Token": token})
    assert api.status_code == 403


async def test_an_operator_accepts_from_the_page_and_rejects_through_the_api(
    app_client, store_engine
):
    first = await _held(store_engine)
    second = await _held(store_engine, "freshbooks/invoice/13")
    await login(app_client, "olga")
    token = await csrf(app_client)

    page = await app_client.get("/anomalies")
    assert f'action="/anomalies/{first}/accept"' in page.text
    no_token = await app_client.post(f"/anomalies/{first}/accept", data={})
    assert no_token.status_code == 403
    done = await app_client.post(f"/anomalies/{first}/accept", data={"csrf_token": token})
    assert done.status_code == 303
    assert done.headers["location"] == "/anomalies?tenant=default"
    rejected = await app_client.post(
        f"/api/anomalies/{second}/reject", headers={"X-CSRF-Token": token}
    )
    assert rejected.status_code == 200, rejected.text
    assert (rejected.json()["status"], rejected.json()["decided_by"]) == ("rejected", "olga")

    assert (await app_client.get("/api/anomalies")).json() == []
    every = (await app_client.get("/api/anomalies", params={"state": "all"})).json()
    assert {(a["id"], a["status"]) for a in every} == {(first, "accepted"), (second, "rejected")}
    async with store_engine.connect() as db:
        actions = (await db.execute(sa.select(audit_log.c.action, audit_log.c.target))).all()
        queued = (await db.execute(sa.select(jobs.c.flow, jobs.c.key))).all()
    assert set(actions) >= {
        ("anomaly.accept", f"anomaly:{first}"),
        ("anomaly.reject", f"anomaly:{second}"),
    }
    assert queued == [("payments", "freshbooks/invoice/12")]  # accepted: its record runs again
    again = await app_client.post(f"/api/anomalies/{first}/reject", headers={"X-CSRF-Token": token})
    assert again.status_code == 409


async def test_unknown_anomalies_are_404(app_client, store_engine):
    ident = await _held(store_engine)
    await login(app_client, "olga")
    token = await csrf(app_client)
    headers = {"X-CSRF-Token": token}
    assert (await app_client.get("/api/anomalies/999")).status_code == 404
    assert (await app_client.post("/api/anomalies/999/accept", headers=headers)).status_code == 404
    form = {"csrf_token": token}
    assert (await app_client.post("/anomalies/999/reject", data=form)).status_code == 404
    other = await app_client.get(f"/api/anomalies/{ident}", params={"tenant": "other"})
    assert other.status_code == 404
    assert (await app_client.get("/api/anomalies", params={"state": "later"})).status_code == 422
    found = await app_client.get(f"/api/anomalies/{ident}")
    assert found.json()["reasons"] == [WHY]


async def test_an_operator_resumes_a_paused_flow_from_the_page(app_client, store_engine):
    from freshforce.assist.breaker import pause  # noqa: PLC0415 - this test's own
    from freshforce.store.pauses import get_pause  # noqa: PLC0415

    why = "a burst of writes: 250 records written on clients in the last 15 minutes"
    async with store_engine.begin() as db:
        assert await pause(db, "default", "clients", reason=why, by="update_breaker")
    await login(app_client, "vic")
    viewer = await app_client.get("/anomalies")
    assert why in viewer.text
    assert "Operators resume." in viewer.text
    token = await csrf(app_client)
    form = {"csrf_token": token}
    assert (await app_client.post("/flows/clients/resume", data=form)).status_code == 403

    await login(app_client, "olga")
    token = await csrf(app_client)
    page = await app_client.get("/anomalies")
    assert 'action="/flows/clients/resume"' in page.text
    assert (await app_client.post("/flows/clients/resume", data={})).status_code == 403
    done = await app_client.post("/flows/clients/resume", data={"csrf_token": token})
    assert done.status_code == 303
    again = await app_client.post("/flows/clients/resume", data={"csrf_token": token})
    assert again.status_code == 409
    async with store_engine.connect() as db:
        found = await get_pause(db, "default", "clients")
        actions = (await db.execute(sa.select(audit_log.c.action, audit_log.c.actor))).all()
    assert found is not None
    assert (found.paused, found.resumed_by) == (False, "olga")
    assert ("flow.resume", "olga") in actions
    assert why not in (await app_client.get("/anomalies")).text
