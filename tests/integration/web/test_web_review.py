"""The record timeline and the conflicts pages over HTTP, on rows made by the store's functions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import SecretStr
from web_support import csrf, login

from freshforce.engine.queue import Failure, JobStatus, Settlement
from freshforce.store.audit import list_audit
from freshforce.store.conflicts import ConflictKind, Parked, park_conflict
from freshforce.store.connections import NewConnection, Tokens, save_connection
from freshforce.store.crypto import TokenCipher, new_key
from freshforce.store.events import NewEvent, record_events
from freshforce.store.linking import NewLink, create_links
from freshforce.store.scope import Scope
from freshforce.store.writelog import Echo, FieldWrite, record_echoes, record_field_writes

SF_ACCOUNT = "001000000000001AAA"
SF_CONTACT = "003000000000001AAA"
INSTANCE = "https://acme.my.salesforce.com"
CLIENTS = Scope("default", "clients")


@pytest.fixture
async def operator(app_client):
    await login(app_client, "olga")
    return {"X-CSRF-Token": await csrf(app_client)}


async def _record(store_engine, queue, clock) -> tuple[int, int]:
    """Link client 42 to an Account and Contact, log its story; return (link, conflict)."""
    cipher = TokenCipher([SecretStr(new_key())])
    tokens = Tokens(SecretStr("a-secret"), SecretStr("r-secret"), clock() + timedelta(hours=1))
    async with store_engine.begin() as db:
        new = NewConnection("sf-1", "salesforce", tokens, instance_url=INSTANCE)
        await save_connection(db, cipher, new, now=clock())
        keys = frozenset({"email:ann@acme.com", "org:acme"})
        [link] = await create_links(db, CLIENTS, [NewLink("42", SF_ACCOUNT, SF_CONTACT, keys=keys)])
        assert link is not None
        await record_events(
            db,
            [NewEvent("webhook", "freshbooks", "client", "42", {"name": "client.update"})],
            now=clock(),
        )
        await queue.enqueue(db, "clients", "freshbooks/client/42", ["h1"])
    [job] = await queue.claim("w1", 1)
    failure = Failure("TransientError", "Salesforce answered 503")
    await queue.settle("w1", [Settlement(job, "retry", 0.1, failure=failure)])
    async with store_engine.begin() as db:
        write = FieldWrite(
            "salesforce",
            "Account",
            SF_ACCOUNT,
            "Name",
            before="Acme",
            after="Acme Corp",
            source_value="Acme Corp",
            trace=({"step": "trim", "in": " Acme Corp", "out": "Acme Corp"},),
            link_id=link.id,
            job_id=job.id,
        )
        await record_field_writes(db, CLIENTS, [write])
        echo = Echo("salesforce", "Account", SF_ACCOUNT, job.id, "fp-1")
        await record_echoes(db, CLIENTS, [echo])
        parked = Parked(
            link.id,
            "email",
            base_value="ann@acme.com",
            freshbooks_value="ann@acme.io",
            salesforce_value="ann@acme.org",
            freshbooks_changed_by="Ann (FreshBooks)",
            freshbooks_changed_at=clock(),
            salesforce_changed_by="005000000000009AAA",
        )
        conflict = await park_conflict(db, CLIENTS, parked)
    return link.id, conflict.id


@pytest.mark.parametrize(
    "q", ["42", "client/42", SF_ACCOUNT, SF_CONTACT[:15], "Ann@Acme.com", "ACME Inc."]
)
async def test_timeline_finds_the_record_by_any_id_email_or_name(
    app_client, store_engine, queue, clock, q
):
    link_id, conflict_id = await _record(store_engine, queue, clock)
    await login(app_client, "vic")
    answer = await app_client.get("/api/records/timeline", params={"q": q})
    assert answer.status_code == 200, answer.text
    record = answer.json()
    [link] = record["links"]
    assert link["id"] == link_id
    assert link["freshbooks_url"] == "https://my.freshbooks.com/#/client/42"
    assert [s["url"] for s in link["salesforce"]] == [
        f"{INSTANCE}/{SF_ACCOUNT}",
        f"{INSTANCE}/{SF_CONTACT}",
    ]
    kinds = [e["kind"] for e in record["timeline"]]
    assert sorted(set(kinds)) == ["attempt", "conflict", "event", "field_write", "job"]
    assert record["counts"] == {
        "events": 1,
        "echoes": 1,
        "jobs": 1,
        "attempts": 1,
        "field_writes": 1,
        "conflicts": 1,
    }
    [write] = [e for e in record["timeline"] if e["kind"] == "field_write"]
    assert (write["before"], write["after"]) == ("Acme", "Acme Corp")
    assert write["trace"] == [{"step": "trim", "in": " Acme Corp", "out": "Acme Corp"}]
    [conflict] = [e for e in record["timeline"] if e["kind"] == "conflict"]
    assert conflict["id"] == conflict_id


async def test_timeline_page_shows_each_part_and_links_both_systems(
    app_client, store_engine, queue, clock
):
    await _record(store_engine, queue, clock)
    await login(app_client, "vic")
    page = await app_client.get("/records", params={"q": "ann@acme.com"})
    assert page.status_code == 200
    text = page.text
    assert 'href="https://my.freshbooks.com/#/client/42"' in text
    assert f'href="{INSTANCE}/{SF_ACCOUNT}"' in text
    assert "freshbooks client changed (webhook)" in text
    assert "echo of our own write to salesforce Account dropped" in text
    assert "TransientError: Salesforce answered 503" in text
    assert "wrote salesforce Account Name" in text
    assert "transform trace" in text
    assert "conflict on email: open" in text
    assert "a-secret" not in text
    assert "r-secret" not in text


async def test_timeline_search_errors_and_empty_states(app_client, store_engine, queue, clock):
    await login(app_client, "vic")
    page = await app_client.get("/records")
    assert page.status_code == 200
    assert "Search for a record" in page.text
    nothing = await app_client.get("/records", params={"q": "99"})
    assert "No link holds this record yet" in nothing.text
    assert "Nothing recorded for this record." in nothing.text
    bad = await app_client.get("/api/records/timeline", params={"q": "not-an@address"})
    assert bad.status_code == 422
    assert "not an e-mail address" in bad.json()["detail"]
    assert (await app_client.get("/records", params={"q": "..."})).status_code == 422
    assert (await app_client.get("/api/records/timeline")).status_code == 422
    await _record(store_engine, queue, clock)
    other = await app_client.get("/api/records/timeline", params={"q": "42", "tenant": "other"})
    assert other.json()["links"] == []
    by_name = await app_client.get("/api/records/timeline", params={"q": "acme", "by": "name"})
    assert len(by_name.json()["links"]) == 1


async def test_timeline_without_salesforce_connection_shows_ids_without_links(
    app_client, store_engine
):
    async with store_engine.begin() as db:
        await create_links(db, CLIENTS, [NewLink("7", SF_ACCOUNT)])
    await login(app_client, "vic")
    [link] = (await app_client.get("/api/records/timeline", params={"q": "7"})).json()["links"]
    assert link["salesforce"] == [{"id": SF_ACCOUNT, "url": None}]


async def test_conflicts_list_show_and_resolve_through_the_page(
    app_client, store_engine, queue, clock, operator
):
    link_id, conflict_id = await _record(store_engine, queue, clock)
    listing = await app_client.get("/conflicts")
    assert f'href="/conflicts/{conflict_id}?tenant=default"' in listing.text
    assert "&#34;ann@acme.io&#34;" in listing.text or '"ann@acme.io"' in listing.text
    page = await app_client.get(f"/conflicts/{conflict_id}")
    assert "Ann (FreshBooks)" in page.text
    assert "005000000000009AAA" in page.text
    assert 'id="take-salesforce"' in page.text
    assert 'href="/records?q=42&amp;flow=clients&amp;tenant=default"' in page.text
    token = operator["X-CSRF-Token"]
    form = {"take": "salesforce", "csrf_token": token}
    done = await app_client.post(f"/conflicts/{conflict_id}/resolve", data=form)
    assert done.status_code == 303
    shown = await app_client.get(done.headers["location"])
    assert "took salesforce" in shown.text
    assert "olga" in shown.text
    again = await app_client.post(f"/conflicts/{conflict_id}/resolve", data=form)
    assert again.status_code == 409
    jobs = await queue.jobs(status=JobStatus.PENDING)
    assert ("clients", f"link/{link_id}") in [(j.flow, j.key) for j in jobs]
    async with store_engine.connect() as db:
        [entry] = await list_audit(db, action="conflict.resolve")
    assert entry.actor == "olga"
    assert entry.target == f"conflict:{conflict_id}"
    assert entry.detail["take"] == "salesforce"
    assert entry.detail["value"] == "ann@acme.org"
    assert (await app_client.get("/conflicts")).text.count("ann@acme.io") == 0
    resolved = (await app_client.get("/api/conflicts", params={"state": "resolved"})).json()
    assert [c["resolved_by"] for c in resolved] == ["olga"]


async def test_resolve_with_a_typed_value_through_the_api(
    app_client, store_engine, queue, clock, operator
):
    _, conflict_id = await _record(store_engine, queue, clock)
    url = f"/api/conflicts/{conflict_id}/resolve"
    answer = await app_client.post(
        url, json={"take": "value", "value": "billing@acme.com"}, headers=operator
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["resolved_value"] == "billing@acme.com"
    assert answer.json()["resolution"] == "value"
    assert (await app_client.post(url, json={"take": "value"}, headers=operator)).status_code == 409


async def test_resolve_refusals(app_client, store_engine, queue, clock, operator):
    _, conflict_id = await _record(store_engine, queue, clock)
    token = operator["X-CSRF-Token"]
    url = f"/conflicts/{conflict_id}/resolve"
    assert (await app_client.post(url, data={"take": "salesforce"})).status_code == 403
    bad_take = await app_client.post(url, data={"take": "both", "csrf_token": token})
    assert bad_take.status_code == 422
    assert "take: &#39;both&#39; is not one of freshbooks, salesforce, value" in bad_take.text
    bad_json = await app_client.post(
        url, data={"take": "value", "value": "{", "value_type": "json", "csrf_token": token}
    )
    assert bad_json.status_code == 422
    assert "value: not JSON at line 1 column 2" in bad_json.text
    missing = await app_client.post(
        "/conflicts/999/resolve", data={"take": "salesforce", "csrf_token": token}
    )
    assert missing.status_code == 404
    api = "/api/conflicts/999/resolve"
    assert (
        await app_client.post(api, json={"take": "salesforce"}, headers=operator)
    ).status_code == 404
    wrong = await app_client.post(
        f"/api/conflicts/{conflict_id}/resolve", json={"take": "neither"}, headers=operator
    )
    assert wrong.status_code == 422
    assert (await app_client.get("/api/conflicts/999")).status_code == 404
    assert (await app_client.get(f"/api/conflicts/{2**64}")).status_code == 422
    assert (
        await app_client.get("/conflicts/999", headers={"accept": "text/html"})
    ).status_code == 404
    assert (await app_client.get("/conflicts", params={"state": "later"})).status_code == 422
    other = await app_client.get(f"/api/conflicts/{conflict_id}", params={"tenant": "other"})
    assert other.status_code == 404


async def test_viewers_cannot_resolve(app_client, store_engine, queue, clock):
    _, conflict_id = await _record(store_engine, queue, clock)
    await login(app_client, "vic")
    token = await csrf(app_client)
    page = await app_client.get(f"/conflicts/{conflict_id}")
    assert "Operators settle conflicts." in page.text
    form = {"take": "freshbooks", "csrf_token": token}
    assert (
        await app_client.post(f"/conflicts/{conflict_id}/resolve", data=form)
    ).status_code == 403
    api = await app_client.post(
        f"/api/conflicts/{conflict_id}/resolve",
        json={"take": "freshbooks"},
        headers={"X-CSRF-Token": token},
    )
    assert api.status_code == 403


async def test_a_refused_field_shows_the_refusing_system_code_and_message(app_client, store_engine):
    async with store_engine.begin() as db:
        [link] = await create_links(db, CLIENTS, [NewLink("9", SF_ACCOUNT, SF_CONTACT)])
        assert link is not None
        refused = Parked(
            link.id, "Contact.Email", None, "peter at initech", None,
            kind=ConflictKind.REFUSED, refused_by="salesforce",
            error_code="INVALID_EMAIL_ADDRESS",
            error_message="Email: invalid email address: peter at initech",
        )  # fmt: skip
        conflict = await park_conflict(db, CLIENTS, refused)
    await login(app_client, "vic")
    listing = await app_client.get("/conflicts")
    assert "refused by salesforce: <code>INVALID_EMAIL_ADDRESS</code>" in listing.text
    page = await app_client.get(f"/conflicts/{conflict.id}")
    assert '<code id="error-code">INVALID_EMAIL_ADDRESS</code>' in page.text
    assert "Email: invalid email address: peter at initech" in page.text
    assert "Correct the value in FreshBooks" in page.text
    [shown] = (await app_client.get("/api/conflicts")).json()
    assert (shown["kind"], shown["error_code"]) == ("refused", "INVALID_EMAIL_ADDRESS")
