"""SOQL over REST: paging with nextRecordsUrl, batch sizes, session-bound locators, children."""

from __future__ import annotations

from sforg import API, Org


async def _accounts(org: Org, count: int) -> None:
    for start in range(0, count, 200):
        records = [
            {"attributes": {"type": "Account"}, "Name": f"Paged {n:04d}"}
            for n in range(start, min(start + 200, count))
        ]
        response = await org.http.post(
            f"{API}/composite/sobjects", json={"records": records}, headers=org.headers
        )
        assert all(r["success"] for r in response.json())


async def test_paging_follows_next_records_url_with_the_requested_batch_size(org: Org):
    await _accounts(org, 450)
    headers = {**org.headers, "Sforce-Query-Options": "batchSize=200"}
    page = (
        await org.http.get(
            f"{API}/query/",
            params={"q": "SELECT Id, Name FROM Account ORDER BY Name"},
            headers=headers,
        )
    ).json()
    sizes, names = [], []
    while True:
        assert page["totalSize"] == 450
        sizes.append(len(page["records"]))
        names.extend(r["Name"] for r in page["records"])
        if page["done"]:
            assert "nextRecordsUrl" not in page
            break
        assert page["nextRecordsUrl"].startswith(f"{API}/query/01g")
        page = (await org.http.get(page["nextRecordsUrl"], headers=org.headers)).json()
    assert sizes == [200, 200, 50]
    assert names == sorted(names)
    assert len(set(names)) == 450


async def test_batch_size_is_clamped_and_defaults_to_2000(org: Org):
    await _accounts(org, 250)
    tiny = {**org.headers, "Sforce-Query-Options": "batchSize=10"}
    first = (
        await org.http.get(f"{API}/query", params={"q": "SELECT Id FROM Account"}, headers=tiny)
    ).json()
    assert len(first["records"]) == 200
    whole = await org.query("SELECT Id FROM Account")
    assert whole["done"] is True
    assert len(whole["records"]) == 250  # type: ignore[arg-type]


async def test_a_locator_belongs_to_the_session_that_opened_it(org: Org):
    await _accounts(org, 250)
    headers = {**org.headers, "Sforce-Query-Options": "batchSize=200"}
    page = (
        await org.http.get(f"{API}/query", params={"q": "SELECT Id FROM Account"}, headers=headers)
    ).json()
    other = await org.admin_token()
    stolen = await org.http.get(
        page["nextRecordsUrl"], headers={"Authorization": f"Bearer {other}"}
    )
    assert stolen.status_code == 400
    assert stolen.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
    mine = await org.http.get(page["nextRecordsUrl"], headers=org.headers)
    assert mine.status_code == 200
    assert len(mine.json()["records"]) == 50
    bogus = await org.get("query/01g000000000000AAA-200")
    assert bogus.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


async def test_parent_fields_and_child_subqueries(org: Org):
    account = await org.create("Account", {"Name": "Parent Co"})
    await org.create("Contact", {"LastName": "Kid", "AccountId": account})
    await org.create("Contact", {"LastName": "Other", "AccountId": account})
    rows = await org.query(
        "SELECT Name, (SELECT LastName FROM Contacts ORDER BY LastName) FROM Account "  # noqa: S608 - SOQL
        f"WHERE Id = '{account}'"
    )
    contacts = rows["records"][0]["Contacts"]  # type: ignore[index]
    assert contacts["totalSize"] == 2
    assert [c["LastName"] for c in contacts["records"]] == ["Kid", "Other"]
    children = await org.query("SELECT LastName, Account.Name FROM Contact ORDER BY LastName")
    assert children["records"][0]["Account"]["Name"] == "Parent Co"  # type: ignore[index]


async def test_bad_queries_answer_with_soql_error_codes(org: Org):
    unknown = await org.get("query", q="SELECT Nope FROM Account")
    assert unknown.status_code == 400
    assert unknown.json()[0]["errorCode"] == "INVALID_FIELD"
    assert "No such column 'Nope'" in unknown.json()[0]["message"]
    malformed = await org.get("query", q="SELECT FROM")
    assert malformed.json()[0]["errorCode"] == "MALFORMED_QUERY"
    empty = await org.get("query")
    assert empty.json()[0]["errorCode"] == "MALFORMED_QUERY"
