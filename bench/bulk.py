"""Time Bulk API 2.0 jobs in-process (ASGI transport): 1,000-row ingest and query, as a table."""

from __future__ import annotations

import asyncio
import time

import httpx

from freshforce.sandbox.salesforce.build import build_salesforce_sandbox

ROWS = 1_000
V = "/services/data/v59.0/jobs"


async def _wait(client: httpx.AsyncClient, path: str) -> dict[str, object]:
    while True:
        info: dict[str, object] = (await client.get(path)).json()
        if info["state"] in {"JobComplete", "Failed", "Aborted"}:
            return info
        await asyncio.sleep(0.001)


async def _ingest(client: httpx.AsyncClient) -> float:
    data = "Name,Industry,AnnualRevenue\n" + "".join(f"Bulk {i},Retail,{i}\n" for i in range(ROWS))
    start = time.perf_counter()
    job = (
        await client.post(f"{V}/ingest", json={"object": "Account", "operation": "insert"})
    ).json()
    await client.put(f"{V}/ingest/{job['id']}/batches", content=data)
    await client.patch(f"{V}/ingest/{job['id']}", json={"state": "UploadComplete"})
    info = await _wait(client, f"{V}/ingest/{job['id']}")
    await client.get(f"{V}/ingest/{job['id']}/successfulResults")
    if info["numberRecordsProcessed"] != ROWS:
        raise SystemExit(f"ingest job processed {info['numberRecordsProcessed']} rows: {info}")
    return time.perf_counter() - start


async def _query(client: httpx.AsyncClient) -> float:
    start = time.perf_counter()
    soql = "SELECT Id, Name, Owner.Name FROM Account WHERE Industry = 'Retail' ORDER BY Name"
    job = (await client.post(f"{V}/query", json={"query": soql})).json()
    await _wait(client, f"{V}/query/{job['id']}")
    page = await client.get(f"{V}/query/{job['id']}/results")
    if page.headers["Sforce-NumberOfRecords"] != str(ROWS):
        raise SystemExit(f"query job returned {page.headers['Sforce-NumberOfRecords']} rows")
    return time.perf_counter() - start


async def main() -> None:
    sandbox = build_salesforce_sandbox()
    token = sandbox.sessions.mint(sandbox.state.admin_user_id).access_token
    transport = httpx.ASGITransport(app=sandbox.app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="https://sandbox.test",
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    ) as client:
        timings = {"ingest insert": await _ingest(client), "query job": await _query(client)}
    print(f"{'job':<14} {'rows':>6} {'seconds':>8} {'rows/s':>8}")
    for label, seconds in timings.items():
        print(f"{label:<14} {ROWS:>6} {seconds:>8.3f} {ROWS / seconds:>8.0f}")


if __name__ == "__main__":
    asyncio.run(main())
