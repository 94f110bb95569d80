"""The audit log page and API: filters by who, kind of action, target and time."""

from __future__ import annotations

from datetime import timedelta

from web_support import login

from freshforce.store.audit import record_audit


async def _log(store_engine, clock) -> None:
    """Four rows over three days by two people."""
    rows = [
        ("olga", "dead_letter.replay", "dead_letter:7", 0),
        ("olga", "dead_letter.discard", "dead_letter:8", 1),
        ("ivan", "conflict.resolve", "conflict:3", 1),
        ("ivan", "connection.connect", "connection:sf-main", 2),
    ]
    async with store_engine.begin() as db:
        for actor, action, target, day in rows:
            await record_audit(
                db,
                actor=actor,
                action=action,
                target=target,
                now=clock() + timedelta(days=day),
                detail={"n": day},
            )


async def test_api_filters(app_client, store_engine, clock):
    await _log(store_engine, clock)
    await login(app_client, "vic")

    async def actions(**params):
        answer = await app_client.get("/api/audit", params=params)
        assert answer.status_code == 200, answer.text
        return [r["action"] for r in answer.json()]

    assert await actions() == [
        "connection.connect",
        "conflict.resolve",
        "dead_letter.discard",
        "dead_letter.replay",
    ]
    assert await actions(actor="olga") == ["dead_letter.discard", "dead_letter.replay"]
    assert await actions(kind="dead_letter") == ["dead_letter.discard", "dead_letter.replay"]
    assert await actions(action="conflict.resolve") == ["conflict.resolve"]
    assert await actions(target="sf-main") == ["connection.connect"]
    day_one = (clock() + timedelta(days=1)).isoformat()
    day_two = (clock() + timedelta(days=2)).isoformat()
    assert await actions(since=day_one, until=day_two) == [
        "conflict.resolve",
        "dead_letter.discard",
    ]
    assert await actions(kind="dead", actor="olga") == []  # a kind is a whole first part
    assert await actions(limit=1) == ["connection.connect"]
    listed = await app_client.get("/api/audit/actions")
    assert listed.json() == sorted(
        ["dead_letter.replay", "dead_letter.discard", "conflict.resolve", "connection.connect"]
    )
    bad = await app_client.get("/api/audit", params={"since": "yesterday"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "since"]


async def test_page_filters_and_links(app_client, store_engine, clock):
    await _log(store_engine, clock)
    await login(app_client, "vic")
    page = await app_client.get("/audit", params={"kind": "dead_letter"})
    assert page.status_code == 200
    assert '<a href="/dead-letters/7">dead_letter:7</a>' in page.text
    assert "conflict.resolve" not in page.text
    assert '<option value="connection"' in page.text
    day = (clock() + timedelta(days=2)).date().isoformat()
    only_last = await app_client.get("/audit", params={"since": day, "until": day})
    assert "connection.connect" in only_last.text
    assert "conflict.resolve" not in only_last.text
    none = await app_client.get("/audit", params={"actor": "nobody"})
    assert "Nothing audited matches these filters" in none.text
    bad = await app_client.get("/audit", params={"until": "31/01/2026"})
    assert bad.status_code == 422
    assert "until: " in bad.text
    assert "is not a date (2026-01-31)" in bad.text


async def test_audit_needs_a_login(app_client):
    assert (await app_client.get("/api/audit")).status_code == 401
    page = await app_client.get("/audit")
    assert page.status_code == 303
