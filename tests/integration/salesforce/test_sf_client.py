from datetime import UTC, datetime

import pytest

from freshforce.connectors.salesforce.client import LocatorLostError, SalesforceClient
from freshforce.connectors.salesforce.governor import GovernorConfig, Priority
from freshforce.errors import AmbiguousWriteError, AuthError, PermanentError, TransientError
from freshforce.sandbox.core import FaultRule

P = Priority.CLIENTS


@pytest.fixture
def database_url(tmp_path) -> str:
    """The client only needs the store for its token: SQLite is enough here."""
    return f"sqlite+aiosqlite:///{tmp_path / 'freshforce.db'}"


NOW = datetime(2026, 1, 1, tzinfo=UTC)


async def test_describe_is_cached(sf) -> None:
    first = await sf.client.describe("Account")
    again = await sf.client.describe("Account")
    assert first is again
    assert first.key_prefix == "001"
    assert "FreshBooks_Client_Id__c" in first.field_names()
    assert sf.calls() == 1


async def test_create_450_in_three_calls_with_per_record_results(sf) -> None:
    records = [{"Name": f"Acme {i}"} for i in range(450)]
    records[201] = {"Website": "https://no-name.test"}  # Name is required
    results = await sf.client.create("Account", records, priority=P)
    assert sf.calls() == 3
    assert len(results) == 450
    failed = [i for i, r in enumerate(results) if not r.success]
    assert failed == [201]
    assert results[201].errors[0].code == "REQUIRED_FIELD_MISSING"
    assert all(r.id is not None and len(r.id) == 18 for r in results if r.success)


async def test_query_follows_next_records_url(sf) -> None:
    await sf.client.create("Account", [{"Name": f"Q {i}"} for i in range(450)], priority=P)
    before = sf.calls()
    rows = await sf.client.query(
        "SELECT Id, Name FROM Account WHERE Name LIKE 'Q %'", priority=P, batch_size=200
    )
    assert len(rows) == 450
    assert len({r["Id"] for r in rows}) == 450
    assert sf.calls() - before == 3  # 200 + 200 + 50


async def test_get_by_ids_accepts_15_char_ids_and_batches(sf) -> None:
    made = await sf.client.create("Account", [{"Name": f"G {i}"} for i in range(250)], priority=P)
    ids = [r.id for r in made if r.id]
    before = sf.calls()
    found = await sf.client.get_by_ids("Account", [i[:15] for i in ids], ["Name"], priority=P)
    assert sorted(found) == sorted(ids)
    assert found[ids[3]]["Name"] == "G 3"
    assert sf.calls() - before == 2  # 200 + 50 ids


async def test_upsert_update_and_echo_marker(sf) -> None:
    rows = [{"FreshBooks_Client_Id__c": "fb-1", "Name": "One"}]
    [created] = await sf.client.upsert("Account", "FreshBooks_Client_Id__c", rows, priority=P)
    assert created.success
    assert created.created is True
    rows = [{"FreshBooks_Client_Id__c": "fb-1", "Name": "One v2"}]
    [again] = await sf.client.upsert("Account", "FreshBooks_Client_Id__c", rows, priority=P)
    assert (again.created, again.id) == (False, created.id)
    assert created.id is not None
    [updated] = await sf.client.update(
        "Account", [{"Id": created.id[:15], "Website": "https://one.test"}], priority=P
    )
    assert updated.success
    found = await sf.client.get_by_ids("Account", [created.id], ["Name", "Website"], priority=P)
    assert found[created.id]["Name"] == "One v2"
    assert found[created.id]["Website"] == "https://one.test"
    origins = {c.change_origin for c in sf.sandbox.state.changes.since(0)}
    assert origins
    assert all(o.endswith(";client=freshforce") for o in origins)


async def test_composite_links_subrequests(sf) -> None:
    base = "/services/data/v59.0/sobjects"
    results = await sf.client.composite(
        [
            {
                "method": "POST",
                "url": f"{base}/Account",
                "referenceId": "acct",
                "body": {"Name": "C"},
            },
            {
                "method": "POST",
                "url": f"{base}/Contact",
                "referenceId": "ct",
                "body": {"LastName": "Y", "AccountId": "@{acct.id}"},
            },
        ],
        all_or_none=True,
        priority=P,
    )
    assert [r.ok for r in results] == [True, True]
    account_id = results[0].body["id"]
    contact_id = results[1].body["id"]
    found = await sf.client.get_by_ids("Contact", [contact_id], ["AccountId"], priority=P)
    assert found[contact_id]["AccountId"] == account_id
    assert sf.calls() == 2


async def test_ambiguous_write_raises_and_the_record_exists(sf) -> None:
    sf.runtime.faults.add(
        FaultRule(kind="ambiguous", method="POST", path="*/composite/sobjects", times=1)
    )
    with pytest.raises(AmbiguousWriteError) as info:
        await sf.client.create("Account", [{"Name": "Maybe"}], priority=P)
    assert info.value.system == "salesforce"
    rows = await sf.client.query("SELECT Id FROM Account WHERE Name = 'Maybe'", priority=P)
    assert len(rows) == 1  # the write happened: look it up before trying again


async def test_limit_exhaustion_is_transient_and_stops_the_governor(sf) -> None:
    await sf.client.describe("Account")
    sf.sandbox.state.allocation.exhaust()
    with pytest.raises(TransientError) as info:
        await sf.client.query("SELECT Id FROM Account", priority=P)
    assert info.value.remote_code == "REQUEST_LIMIT_EXCEEDED"
    assert info.value.http_status == 403
    assert info.value.retry_after is not None
    assert info.value.retry_after >= 900
    assert sf.governor.snapshot(sf.org_id).remaining == 0
    with pytest.raises(TransientError) as info:  # the governor now refuses without a call
        await sf.client.query("SELECT Id FROM Account", priority=Priority.PAYMENTS)
    assert info.value.http_status is None


async def test_the_concurrency_limit_waits_briefly_and_leaves_the_budget_alone(sf) -> None:
    await sf.client.describe("Account")
    sf.runtime.faults.add(FaultRule(kind="rate_limit", path="*/query", times=2, retry_after=2))
    with pytest.raises(TransientError) as info:
        await sf.client.query("SELECT Id FROM Account", priority=P)
    assert info.value.remote_code == "REQUEST_LIMIT_EXCEEDED"
    assert info.value.retry_after == 5.0
    assert sf.sleeps.waits == [5.0]  # retried once after the hint, then handed back
    assert sf.governor.snapshot(sf.org_id).remaining > 0


async def test_a_503_is_retried_and_validation_is_permanent(sf) -> None:
    sf.runtime.faults.add(FaultRule(kind="error", status=503, path="*/query", times=1))
    assert await sf.client.query("SELECT Id FROM Account LIMIT 1", priority=P) is not None
    assert len(sf.sleeps.waits) == 1
    sf.runtime.faults.add(FaultRule(kind="error", status=503, path="*/query", times=2))
    with pytest.raises(TransientError) as info:
        await sf.client.query("SELECT Id FROM Account", priority=P)
    assert info.value.http_status == 503
    with pytest.raises(PermanentError) as info:
        await sf.client.query("SELECT Nope__c FROM Account", priority=P)
    assert info.value.remote_code == "INVALID_FIELD"


async def test_session_expiry_mid_run_refreshes_once_and_continues(sf) -> None:
    await sf.client.create("Account", [{"Name": f"E {i}"} for i in range(450)], priority=P)
    first = [r async for r in sf.client.query_pages("SELECT Id FROM Account", priority=P)]
    assert first
    pages = sf.client.query_pages("SELECT Id FROM Account", priority=P, batch_size=200)
    got = await anext(pages)
    assert len(got) == 200
    assert sf.sandbox.sessions.expire() >= 1  # every session dies mid-run
    await pages.aclose()
    rows = await sf.client.query("SELECT Id FROM Account", priority=P, batch_size=200)
    assert len({r["Id"] for r in rows}) == len(rows) >= 450
    assert sf.source.refreshes == 1
    # the cursor of the old session is gone: the next page is re-run under the new one
    pages = sf.client.query_pages("SELECT Id FROM Account", priority=P, batch_size=200)
    await anext(pages)
    sf.sandbox.sessions.expire()
    rows = await sf.client.query("SELECT Id FROM Account", priority=P, batch_size=200)
    assert len(rows) >= 450
    assert sf.source.refreshes == 2
    updated = await sf.client.update("Account", [{"Id": rows[0]["Id"], "Name": "x"}], priority=P)
    assert updated[0].success


async def test_query_restarts_when_a_refresh_kills_its_cursor(sf) -> None:
    await sf.client.create("Account", [{"Name": f"L {i}"} for i in range(450)], priority=P)
    pages = sf.client.query_pages("SELECT Id FROM Account", priority=P, batch_size=200)
    await anext(pages)
    sf.sandbox.sessions.expire()
    with pytest.raises(LocatorLostError):
        await anext(pages)
    rows = await sf.client.query("SELECT Id FROM Account", priority=P, batch_size=200)
    assert len(rows) == len({r["Id"] for r in rows}) >= 450


async def test_a_refused_refresh_is_an_auth_error_without_secrets(sf) -> None:
    sf.sandbox.sessions.reset()  # every token, refresh tokens included, is forgotten
    with pytest.raises(AuthError) as info:
        await sf.client.describe("Contact")
    assert "refused" in str(info.value)
    assert "!" not in str(info.value)  # no Salesforce token text leaks into the message


async def test_sandbox_allocation_set_low_makes_backfill_wait_first(sf) -> None:
    config = GovernorConfig(reserve=5, step_fraction=0.1)
    client = await sf.new_client(governor_config=config, clock=lambda: NOW)
    governor = client.governor
    answer = await sf.admin.put(
        "/_sandbox/salesforce/limits", json={"max_calls": 40, "reset": True}
    )
    assert answer.status_code == 200
    # floors on 40: payments 5, invoices 9, clients 13, backfill 17
    assert await spend(client, Priority.BACKFILL) == 40 - 17
    assert await spend(client, Priority.PAYMENTS) == 17 - 5
    assert sf.sandbox.state.allocation.remaining() == 5  # the reserve is untouched
    assert governor.snapshot(sf.org_id).deferred["backfill"] == 1


async def spend(client: SalesforceClient, priority: Priority) -> int:
    """Query until the governor refuses (locally: no call spent); return how many ran."""
    ran = 0
    while True:
        try:
            await client.query("SELECT Id FROM Account LIMIT 1", priority=priority)
        except TransientError as exc:
            if exc.http_status is not None:
                raise
            return ran
        ran += 1
