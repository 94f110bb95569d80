"""API calls per record for a 10k-record Salesforce backfill, read and write, and print a table.

The connector's client runs against the Salesforce sandbox in process (ASGI transport), so the
figures count real REST round-trips as the sandbox charges them, not a model of them. Reads by
id cover 2,000 of the records: the sandbox evaluates ``Id IN (…)`` by scanning, which makes
its rec/s a sandbox figure, not a connector one. The REST rows use a client whose bulk threshold
is above N (so writes stay on sObject Collections); the Bulk API 2.0 rows use the default
threshold (2,000), so the same 10k-record write and read run as one ingest or query job each.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx
import structlog

from freshforce.connectors.core import CallCounter, CallRetryPolicy, build_http_client
from freshforce.connectors.salesforce.client import SalesforceClient, SalesforceOrg
from freshforce.connectors.salesforce.governor import Governor, GovernorConfig, Priority
from freshforce.sandbox.salesforce.build import build_salesforce_sandbox

RECORDS = 10_000
BY_ID = 2_000
CONNECTION = "bench"
P = Priority.BACKFILL


def _now() -> datetime:
    return datetime.now(UTC)


async def _measure(
    counter: CallCounter, label: str, work: Callable[[], Awaitable[int]]
) -> tuple[str, int, int, float]:
    before = counter.calls(CONNECTION)
    started = time.perf_counter()
    records = await work()
    seconds = time.perf_counter() - started
    return label, records, counter.calls(CONNECTION) - before, seconds


async def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
    sandbox = build_salesforce_sandbox(seed=3, daily_api_limit=1_000_000)
    token = sandbox.sessions.mint(sandbox.state.admin_user_id).access_token
    counter = CallCounter()
    http = build_http_client(
        "https://bench.my.salesforce.com",
        transport=httpx.ASGITransport(app=sandbox.app),
        headers={"Authorization": f"Bearer {token}"},
    )
    governor = Governor(GovernorConfig(reserve=0, step_fraction=0.0), clock=_now)
    org = SalesforceOrg(sandbox.state.org_id)
    retry = CallRetryPolicy(attempts=1)
    client = SalesforceClient(
        http,
        org,
        governor,
        connection_id=CONNECTION,
        retry=retry,
        counter=counter,
        bulk_threshold=RECORDS,
    )
    bulk = SalesforceClient(
        http, org, governor, connection_id=CONNECTION, retry=retry, counter=counter
    )
    rows = [{"Name": f"Bench {i}", "FreshBooks_Client_Id__c": f"fb-{i}"} for i in range(RECORDS)]
    ids: list[str] = []

    async def create() -> int:
        results = await client.create("Account", rows, priority=P)
        ids.extend(r.id for r in results if r.id)
        return len(results)

    async def upsert() -> int:
        changed = [{**r, "Website": "https://x.test"} for r in rows]
        ext = "FreshBooks_Client_Id__c"
        return len(await client.upsert("Account", ext, changed, priority=P))

    async def query() -> int:
        soql = "SELECT Id, Name, SystemModstamp FROM Account WHERE Name LIKE 'Bench %'"
        return len(await client.query(soql, priority=P))

    async def by_ids() -> int:
        return len(await client.get_by_ids("Account", ids[:BY_ID], ["Name"], priority=P))

    async def bulk_upsert() -> int:
        changed = [{**r, "Website": "https://bulk.test"} for r in rows]
        ext = "FreshBooks_Client_Id__c"
        results = await bulk.upsert("Account", ext, changed, priority=P)
        return sum(r.success for r in results)  # only records Salesforce took count

    async def bulk_query() -> int:
        soql = "SELECT Id, Name, SystemModstamp FROM Account WHERE Name LIKE 'Bench %'"
        return len(await bulk.bulk_query(soql, priority=P))

    table = [
        await _measure(counter, "write: create (Collections)", create),
        await _measure(counter, "write: upsert by external id", upsert),
        await _measure(counter, "read: query, 2000-row pages", query),
        await _measure(counter, "read: get by ids (SOQL IN 200)", by_ids),
        await _measure(counter, "write: upsert (Bulk API 2.0 job)", bulk_upsert),
        await _measure(counter, "read: query (Bulk API 2.0 job)", bulk_query),
    ]
    await http.aclose()
    print(f"{'operation':<34} {'records':>8} {'calls':>6} {'calls/100 rec':>14} {'rec/s':>8}")
    for label, records, calls, seconds in table:
        per_100 = calls * 100 / records
        print(f"{label:<34} {records:>8} {calls:>6} {per_100:>14.2f} {records / seconds:>8.0f}")


if __name__ == "__main__":
    asyncio.run(main())
