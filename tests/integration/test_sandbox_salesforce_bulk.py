import asyncio
import csv
import io
from collections.abc import AsyncIterator

import httpx
import pytest

from freshforce.sandbox.salesforce.build import SalesforceSandbox, build_salesforce_sandbox
from freshforce.sandbox.salesforce.state import WriteContext

V = "/services/data/v59.0"


@pytest.fixture
def sandbox() -> SalesforceSandbox:
    return build_salesforce_sandbox()


@pytest.fixture
async def client(sandbox: SalesforceSandbox) -> AsyncIterator[httpx.AsyncClient]:
    token = sandbox.sessions.mint(sandbox.state.admin_user_id).access_token
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox.app),
        base_url="https://sandbox.test",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ) as http:
        yield http


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def finished(client: httpx.AsyncClient, path: str) -> dict[str, object]:
    for _ in range(100):
        info = (await client.get(path)).json()
        if info["state"] in {"JobComplete", "Failed", "Aborted"}:
            return info
        await asyncio.sleep(0.01)
    raise AssertionError(f"{path} never finished: {info}")


async def ingest(
    client: httpx.AsyncClient, body: dict[str, str], data: str
) -> tuple[str, dict[str, object]]:
    created = await client.post(f"{V}/jobs/ingest", json=body)
    assert created.status_code == 200, created.text
    job_id = created.json()["id"]
    put = await client.put(
        f"{V}/jobs/ingest/{job_id}/batches", content=data, headers={"Content-Type": "text/csv"}
    )
    assert put.status_code == 201
    closed = await client.patch(f"{V}/jobs/ingest/{job_id}", json={"state": "UploadComplete"})
    assert closed.status_code == 200
    return job_id, await finished(client, f"{V}/jobs/ingest/{job_id}")


async def test_insert_job_writes_rows_and_reports_each_outcome(
    client: httpx.AsyncClient, sandbox: SalesforceSandbox
) -> None:
    created = (
        await client.post(f"{V}/jobs/ingest", json={"object": "account", "operation": "insert"})
    ).json()
    assert created["id"].startswith("750")
    assert (created["state"], created["object"], created["apiVersion"]) == ("Open", "Account", 59.0)
    assert created["contentUrl"] == f"services/data/v59.0/jobs/ingest/{created['id']}/batches"

    data = "Name,Industry,AnnualRevenue\nAcme,Technology,1000\n,Retail,5\nGlobex,,\n"
    job_id, info = await ingest(client, {"object": "Account", "operation": "insert"}, data)
    assert info["state"] == "JobComplete"
    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (3, 1)
    assert info["jobType"] == "V2Ingest"

    ok = await client.get(f"{V}/jobs/ingest/{job_id}/successfulResults")
    assert ok.headers["content-type"].startswith("text/csv")
    assert ok.text.splitlines()[0] == '"sf__Id","sf__Created","Name","Industry","AnnualRevenue"'
    good = rows(ok.text)
    assert [(r["Name"], r["sf__Created"]) for r in good] == [
        ("Acme", "true"),
        ("Globex", "true"),
    ]
    assert all(r["sf__Id"].startswith("001") and len(r["sf__Id"]) == 18 for r in good)
    bad = rows((await client.get(f"{V}/jobs/ingest/{job_id}/failedResults")).text)
    assert bad[0]["Industry"] == "Retail"
    assert bad[0]["sf__Error"].startswith(
        "REQUIRED_FIELD_MISSING:Required fields are missing: [Name]"
    )

    found = await client.get(
        f"{V}/query", params={"q": "SELECT Name, AnnualRevenue FROM Account ORDER BY Name"}
    )
    assert [(r["Name"], r["AnnualRevenue"]) for r in found.json()["records"]] == [
        ("Acme", 1000),
        ("Globex", None),
    ]
    origins = {c.change_origin for c in sandbox.state.changes.since(0)}
    assert "com/salesforce/api/bulkapi/59.0" in origins


async def test_upsert_update_delete_and_null_marker(
    client: httpx.AsyncClient, sandbox: SalesforceSandbox
) -> None:
    ctx = WriteContext(user_id=sandbox.state.admin_user_id)
    old = sandbox.state.create(
        "Account", {"Name": "Old", "FreshBooks_Client_Id__c": "FB-1", "Phone": "1"}, ctx
    )
    body = {
        "object": "Account",
        "operation": "upsert",
        "externalIdFieldName": "FreshBooks_Client_Id__c",
    }
    job_id, info = await ingest(
        client, body, "FreshBooks_Client_Id__c,Name,Phone\nFB-1,Renamed,#N/A\nFB-2,New,\n"
    )
    assert info["externalIdFieldName"] == "FreshBooks_Client_Id__c"
    results = rows((await client.get(f"{V}/jobs/ingest/{job_id}/successfulResults")).text)
    assert [(r["sf__Id"] == old, r["sf__Created"]) for r in results] == [
        (True, "false"),
        (False, "true"),
    ]
    assert sandbox.state.read("Account", old)["Name"] == "Renamed"
    assert sandbox.state.read("Account", old)["Phone"] is None

    _, info = await ingest(
        client, {"object": "Account", "operation": "update"}, f"Id,Name\n{old[:15]},Third\n"
    )
    assert info["numberRecordsFailed"] == 0
    assert sandbox.state.read("Account", old)["Name"] == "Third"

    job_id, info = await ingest(
        client, {"object": "Account", "operation": "delete"}, f"Id\n{old}\n001000000000000AAA\n"
    )
    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (2, 1)
    everything = await client.get(
        f"{V}/queryAll",
        params={"q": f"SELECT IsDeleted FROM Account WHERE Id = '{old}'"},  # noqa: S608 - SOQL
    )
    assert everything.json()["records"][0]["IsDeleted"] is True


async def test_abort_leaves_rows_unprocessed(client: httpx.AsyncClient) -> None:
    job_id = (
        await client.post(f"{V}/jobs/ingest", json={"object": "Contact", "operation": "insert"})
    ).json()["id"]
    await client.put(f"{V}/jobs/ingest/{job_id}/batches", content="LastName\nA\nB\n")
    aborted = await client.patch(f"{V}/jobs/ingest/{job_id}", json={"state": "Aborted"})
    assert aborted.json()["state"] == "Aborted"
    for name in ("unprocessedrecords", "unprocessedRecords"):
        listed = await client.get(f"{V}/jobs/ingest/{job_id}/{name}")
        assert rows(listed.text) == [{"LastName": "A"}, {"LastName": "B"}]
    late = await client.put(f"{V}/jobs/ingest/{job_id}/batches", content="LastName\nC\n")
    assert late.status_code == 409
    assert late.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    assert (await client.delete(f"{V}/jobs/ingest/{job_id}")).status_code == 204
    assert (await client.get(f"{V}/jobs/ingest/{job_id}")).status_code == 404


async def test_bad_jobs_fail_with_salesforce_errors(client: httpx.AsyncClient) -> None:
    _, info = await ingest(
        client, {"object": "Account", "operation": "insert"}, "Name,Nope__c\nA,1\n"
    )
    assert info["state"] == "Failed"
    assert info["errorMessage"] == "InvalidBatch : Field name not found : Nope__c"
    unknown = await client.post(
        f"{V}/jobs/ingest", json={"object": "Acount", "operation": "insert"}
    )
    assert unknown.status_code == 400
    assert unknown.json()[0]["errorCode"] == "INVALIDJOB"
    bad_op = await client.post(f"{V}/jobs/ingest", json={"object": "Account", "operation": "merge"})
    assert "Invalid operation: merge" in bad_op.json()[0]["message"]
    no_key = await client.post(
        f"{V}/jobs/ingest",
        json={"object": "Account", "operation": "upsert", "externalIdFieldName": "Name"},
    )
    assert no_key.status_code == 400
    missing = await client.post(f"{V}/jobs/ingest", json={"operation": "insert"})
    assert missing.status_code == 400
    assert "object" in missing.json()[0]["message"]
    anonymous = await client.get(f"{V}/jobs/ingest", headers={"Authorization": ""})
    assert anonymous.status_code == 401


async def test_query_job_pages_csv_with_locators(
    client: httpx.AsyncClient, sandbox: SalesforceSandbox
) -> None:
    ctx = WriteContext(user_id=sandbox.state.admin_user_id)
    acme = sandbox.state.create("Account", {"Name": "Acme, Inc."}, ctx)
    for index in range(5):
        sandbox.state.create(
            "Contact", {"LastName": f"L{index}", "AccountId": acme if index % 2 else None}, ctx
        )
    gone = sandbox.state.create("Contact", {"LastName": "Gone"}, ctx)
    sandbox.state.delete("Contact", gone, ctx)

    text = "SELECT Id, LastName, Account.Name FROM Contact ORDER BY LastName"
    created = await client.post(f"{V}/jobs/query", json={"operation": "query", "query": text})
    assert created.status_code == 200, created.text
    job = created.json()
    assert (job["object"], job["operation"], job["state"]) == ("Contact", "query", "UploadComplete")
    info = await finished(client, f"{V}/jobs/query/{job['id']}")
    assert (info["state"], info["numberRecordsProcessed"], info["jobType"]) == (
        "JobComplete",
        5,
        "V2Query",
    )

    collected: list[dict[str, str]] = []
    locator = None
    pages = 0
    while locator != "null":
        params = {"maxRecords": 2} | ({"locator": locator} if locator else {})
        page = await client.get(f"{V}/jobs/query/{job['id']}/results", params=params)
        assert page.status_code == 200
        found = rows(page.text)
        assert int(page.headers["Sforce-NumberOfRecords"]) == len(found)
        collected += found
        locator = page.headers["Sforce-Locator"]
        pages += 1
    assert pages == 3
    assert [r["LastName"] for r in collected] == ["L0", "L1", "L2", "L3", "L4"]
    assert [r["Account.Name"] for r in collected] == ["", "Acme, Inc.", "", "Acme, Inc.", ""]

    every = (
        await client.post(
            f"{V}/jobs/query",
            json={"operation": "queryAll", "query": "SELECT LastName FROM Contact"},
        )
    ).json()
    await finished(client, f"{V}/jobs/query/{every['id']}")
    whole = await client.get(f"{V}/jobs/query/{every['id']}/results")
    assert whole.headers["Sforce-Locator"] == "null"
    assert "Gone" in {r["LastName"] for r in rows(whole.text)}

    other_version = await client.get(f"/services/data/v60.0/jobs/query/{job['id']}/results")
    assert other_version.status_code == 409


async def test_query_job_refuses_bad_soql_up_front(client: httpx.AsyncClient) -> None:
    bad = await client.post(f"{V}/jobs/query", json={"query": "SELECT Nope FROM Account"})
    assert bad.status_code == 400
    assert bad.json()[0]["errorCode"] == "INVALID_FIELD"
    assert "No such column 'Nope' on entity 'Account'" in bad.json()[0]["message"]
    nested = await client.post(
        f"{V}/jobs/query", json={"query": "SELECT Id, (SELECT Id FROM Contacts) FROM Account"}
    )
    assert nested.status_code == 400
    malformed = await client.post(f"{V}/jobs/query", json={"query": "SELECT FROM Account"})
    assert malformed.json()[0]["errorCode"] == "MALFORMED_QUERY"


async def test_tab_delimited_crlf_jobs_answer_in_kind(client: httpx.AsyncClient) -> None:
    body = {
        "object": "Contact",
        "operation": "insert",
        "columnDelimiter": "TAB",
        "lineEnding": "CRLF",
    }
    job_id, info = await ingest(client, body, "LastName\tEmail\r\nTab, Name\tt@example.test\r\n")
    assert (info["columnDelimiter"], info["lineEnding"]) == ("TAB", "CRLF")
    assert info["numberRecordsFailed"] == 0
    text = (await client.get(f"{V}/jobs/ingest/{job_id}/successfulResults")).text
    header, row = text.split("\r\n")[:2]
    assert header == '"sf__Id"\t"sf__Created"\t"LastName"\t"Email"'
    assert row.endswith('"true"\t"Tab, Name"\t"t@example.test"')
    refused = await client.post(f"{V}/jobs/ingest", json={**body, "columnDelimiter": "SPACE"})
    assert refused.status_code == 400
    assert "columnDelimiter must be one of" in refused.json()[0]["message"]
