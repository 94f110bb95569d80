import httpx
import pytest

from freshforce.connectors.salesforce.bulk import BulkJobError, BulkPolicy, SalesforceBulk
from freshforce.connectors.salesforce.governor import Priority
from freshforce.errors import AmbiguousWriteError

P = Priority.BACKFILL
V = "/services/data/v59.0"
EXT = "FreshBooks_Client_Id__c"


@pytest.fixture
def database_url(tmp_path) -> str:
    """The client only needs the store for its token: SQLite is enough here."""
    return f"sqlite+aiosqlite:///{tmp_path / 'freshforce.db'}"


class Recorder(httpx.AsyncBaseTransport):
    """Passes every request to the sandbox and keeps its method, path and headers."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.seen: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return await self.inner.handle_async_request(request)


@pytest.fixture
async def recorded(sf) -> Recorder:
    recorder = Recorder(sf.transport)
    sf.transport = recorder
    sf.client = await sf.new_client()
    return recorder


async def test_bulk_insert_reports_the_failing_row_in_input_order(sf, recorded) -> None:
    records = [{"Name": f'Bulk "{i}", Inc.', "Website": None} for i in range(30)]
    records[17] = {"Website": "https://no-name.test"}  # Name is required
    results = await sf.client.bulk_insert("Account", records, priority=P)
    assert len(results) == 30
    assert [i for i, r in enumerate(results) if not r.success] == [17]
    assert results[17].errors[0].code == "REQUIRED_FIELD_MISSING"
    assert all(r.created and r.id and len(r.id) == 18 for i, r in enumerate(results) if i != 17)
    found = await sf.client.get_by_ids("Account", [results[3].id or ""], ["Name"], priority=P)
    assert found[results[3].id or ""]["Name"] == 'Bulk "3", Inc.'
    bulk = [r for r in recorded.seen if "/jobs/" in r.url.path]
    assert len(bulk) == 6  # open, upload, close, poll, two result files
    assert all(r.headers["sforce-call-options"] == "client=freshforce" for r in bulk)
    upload = next(r for r in bulk if r.method == "PUT")
    assert upload.headers["content-type"] == "text/csv"
    assert upload.content.decode().splitlines()[0] == "Name,Website"


async def test_bulk_upsert_creates_then_updates_and_counts_calls(sf) -> None:
    rows = [{EXT: f"fb-{i}", "Name": f"U {i}"} for i in range(50)]
    before = sf.calls()
    first = await sf.client.bulk_upsert("Account", EXT, rows, priority=P)
    assert sf.calls() - before == 6
    budget = sf.governor.snapshot(sf.org_id)
    assert budget.admitted["backfill"] == 6  # each bulk call passed the governor
    assert budget.used > 0  # and fed Sforce-Limit-Info back
    assert all(r.success and r.created for r in first)
    again = await sf.client.bulk_upsert(
        "Account", EXT, [{**r, "Name": r["Name"] + "!"} for r in rows], priority=P
    )
    assert [(r.created, r.id) for r in again] == [(False, r.id) for r in first]
    origins = {c.change_origin for c in sf.sandbox.state.changes.since(0)}
    assert any("bulkapi" in o and "client=freshforce" in o for o in origins), origins


async def test_large_upsert_goes_through_bulk(sf) -> None:
    client = await sf.new_client()
    client.bulk_threshold = 100
    rows = [{EXT: f"big-{i}", "Name": f"Big {i}"} for i in range(101)]
    rows[40] = {EXT: "big-40", "Name": None}  # nulling a required field fails
    before = sf.calls()
    results = await client.upsert("Account", EXT, rows, priority=P)
    assert sf.calls() - before == 6  # one job, not a collection call per 200
    assert [i for i, r in enumerate(results) if not r.success] == [40]
    assert results[40].errors[0].code == "REQUIRED_FIELD_MISSING"


async def test_bulk_delete_removes_records(sf) -> None:
    made = await sf.client.create("Account", [{"Name": f"D {i}"} for i in range(5)], priority=P)
    ids = [r.id or "" for r in made]
    results = await sf.client.bulk_delete("Account", [ids[0][:15], *ids[1:]], priority=P)
    assert [r.success for r in results] == [True] * 5
    assert results[0].id == ids[0]
    left = await sf.client.query("SELECT Id FROM Account WHERE Name LIKE 'D %'", priority=P)
    assert left == []
    with pytest.raises(ValueError, match="bulk update Account: record 1 has no Id"):
        await sf.client.bulk_update("Account", [{"Id": ids[0]}, {"Name": "x"}], priority=P)


async def test_bulk_query_follows_locator_pages(sf) -> None:
    await sf.client.bulk_insert(
        "Account", [{"Name": f"Q {i:03}", "Website": None} for i in range(250)], priority=P
    )
    client = await sf.new_client()
    client.bulk.policy = BulkPolicy(page_records=100)
    before = sf.calls()
    rows = await client.bulk_query(
        "SELECT Id, Name, Website FROM Account WHERE Name LIKE 'Q %'", priority=P
    )
    assert sf.calls() - before == 5  # create, poll, three pages of 100/100/50
    assert sorted(r["Name"] or "" for r in rows) == [f"Q {i:03}" for i in range(250)]
    assert len({r["Id"] for r in rows}) == 250
    assert all(r["Website"] is None for r in rows)


async def test_failed_job_names_its_id(sf) -> None:
    with pytest.raises(BulkJobError) as caught:
        await sf.client.bulk_insert("Account", [{"Name": "X", "Nope__c": "1"}], priority=P)
    assert caught.value.state == "Failed"
    assert caught.value.job_id.startswith("750")
    assert caught.value.job_id in str(caught.value)
    assert "Nope__c" in str(caught.value)


async def test_aborted_job_raises_with_its_id(sf) -> None:
    bulk = sf.client.bulk
    job_id = await bulk.open("Account", "insert", P)
    await bulk.upload(job_id, "Name\nA\n", priority=P)
    await bulk.abort("ingest", job_id, priority=P)
    before = sf.calls()
    with pytest.raises(BulkJobError, match=job_id) as caught:
        await bulk.finish(job_id, [{"Name": "A"}], priority=P)
    assert caught.value.state == "Aborted"
    [result] = caught.value.results
    assert not result.success
    assert result.errors[0].code == "UNPROCESSED"
    assert sf.calls() - before == 4  # poll, then the three result files


async def test_polling_backs_off_until_the_budget(sf) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    policy = BulkPolicy(first_wait=1, factor=2, max_wait=5, budget_seconds=10)
    bulk = SalesforceBulk(
        sf.client.send,
        sf.client.org.base,
        call_client="freshforce",
        policy=policy,
        sleep=sleep,
        monotonic=lambda: sum(waits),
    )
    job_id = await bulk.open("Account", "insert", P)  # never closed: stays Open
    before = sf.calls()
    with pytest.raises(AmbiguousWriteError, match=f"{job_id} still Open"):
        await bulk.wait("ingest", job_id, priority=P)
    assert waits == [1, 2, 4, 5]
    assert sf.calls() - before == 5
