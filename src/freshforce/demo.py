"""The guided demo: start what exists, then walk one deal through both sandboxes.

It starts the FreshBooks and Salesforce sandboxes, prepares the embedded SQLite store, and plays
the quote-to-cash story through the sandboxes' public APIs: a client, a won deal, an invoice and a
payment. Every step prints what it did and where to see it. Parts of freshforce that are not built
yet are named as such instead of being pretended.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from freshforce.errors import ConfigError
from freshforce.sandbox.core.server import ListenError
from freshforce.sandbox.launch import SandboxSettings, StartedVendor, build_vendors, wait_started
from freshforce.settings import Settings
from freshforce.store.migrate import prepare_database

__all__ = ["DemoResult", "run_demo"]

_SF_API = "/services/data/v59.0"
_TIMEOUT = httpx.Timeout(10.0)
# Wire bodies of both sandboxes are JSON of vendor-defined shape.
JSON = dict[str, Any]


@dataclass(frozen=True)
class DemoResult:
    """What the scenario created, by system, for the summary and the tests."""

    freshbooks_client_id: int
    salesforce_account_id: str
    salesforce_opportunity_id: str
    opportunity_won: bool
    freshbooks_invoice_id: int
    invoice_number: str
    invoice_payment_status: str


async def run_demo(
    settings: Settings,
    sandbox: SandboxSettings,
    echo: Callable[[str], None],
    *,
    keep_running: bool,
) -> DemoResult:
    """Start everything, play the scenario, and serve until a signal when ``keep_running``.

    A sandbox port that cannot be bound is a :class:`ConfigError` naming it; the store is not
    touched until every sandbox listens.
    """
    try:
        vendors = build_vendors(sandbox)
    except ListenError as exc:
        raise _port_problem(exc) from None
    servers = [server for vendor in vendors for server in vendor.servers]
    tasks = [asyncio.create_task(server.serve()) for server in servers]
    try:
        try:
            await wait_started(servers, tasks)
        except ListenError as exc:
            raise _port_problem(exc) from None
        await prepare_database(settings.database_url, auto_migrate=True)
        echo(f"store                {settings.database_url} (migrated)")
        for vendor in vendors:
            for line in vendor.describe():
                echo(line)
        urls = _urls(vendors)
        async with httpx.AsyncClient(timeout=_TIMEOUT, verify=False) as http:  # noqa: S501 - local self-signed sandbox
            result = await _scenario(http, urls["freshbooks"], urls["salesforce"], echo)
        _summary(result, echo)
        if keep_running:
            await _serve_until_signal(servers, tasks, echo)
        return result
    finally:
        for server in servers:
            server.request_stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        for vendor in vendors:
            await vendor.aclose()


def _port_problem(exc: ListenError) -> ConfigError:
    return ConfigError(
        f"the demo's sandboxes {exc}: another `freshforce demo` or `freshforce sandbox` may be "
        f"running; stop it, or run `freshforce demo --check`, which picks free ports"
    )


def _urls(vendors: list[StartedVendor]) -> dict[str, str]:
    urls: dict[str, str] = {}
    for vendor in vendors:
        first = vendor.servers[0]
        urls[vendor.name] = str(getattr(first, "url", ""))
    return urls


async def _scenario(
    http: httpx.AsyncClient, fb_url: str, sf_url: str, echo: Callable[[str], None]
) -> DemoResult:
    fb = await _freshbooks_session(http, fb_url)
    sf_headers = await _salesforce_headers(http, sf_url)
    echo("")
    echo("1. A new client in FreshBooks")
    client = await _post(
        http,
        f"{fb.base}/users/clients",
        {
            "client": {
                "fname": "Ada",
                "lname": "Lovelace",
                "email": "ada@analytical.example",
                "organization": "Analytical Engines Ltd",
            }
        },
        fb.headers,
    )
    client_id = int(client["response"]["result"]["client"]["id"])
    echo(f"   FreshBooks client {client_id}: Analytical Engines Ltd <ada@analytical.example>")
    echo("2. The same company as a Salesforce Account with a deal, which is then won")
    account = await _post(
        http, f"{sf_url}{_SF_API}/sobjects/Account/", {"Name": "Analytical Engines Ltd"}, sf_headers
    )
    close_date = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    opportunity = await _post(
        http,
        f"{sf_url}{_SF_API}/sobjects/Opportunity/",
        {
            "Name": "Difference Engine No. 2",
            "AccountId": account["id"],
            "StageName": "Prospecting",
            "CloseDate": close_date,
            "Amount": 1200,
        },
        sf_headers,
    )
    response = await http.patch(
        f"{sf_url}{_SF_API}/sobjects/Opportunity/{opportunity['id']}",
        json={"StageName": "Closed Won"},
        headers=sf_headers,
    )
    response.raise_for_status()
    won = await _get(
        http, f"{sf_url}{_SF_API}/sobjects/Opportunity/{opportunity['id']}", sf_headers
    )
    echo(f"   Account {account['id']}, Opportunity {opportunity['id']}: IsWon={won['IsWon']}")
    echo("3. The invoice for the won deal, and its payment")
    invoice = await _post(
        http,
        f"{fb.base}/invoices/invoices",
        {
            "invoice": {
                "customerid": client_id,
                "create_date": datetime.now(UTC).date().isoformat(),
                "lines": [
                    {
                        "name": "Difference Engine No. 2",
                        "qty": 1,
                        "unit_cost": {"amount": "1200.00", "code": "USD"},
                    }
                ],
            }
        },
        fb.headers,
    )
    invoice_body = invoice["response"]["result"]["invoice"]
    invoice_id = int(invoice_body["id"])
    await _post(
        http,
        f"{fb.base}/payments/payments",
        {
            "payment": {
                "invoiceid": invoice_id,
                "amount": {"amount": "1200.00", "code": "USD"},
                "date": datetime.now(UTC).date().isoformat(),
                "type": "Check",
            }
        },
        fb.headers,
    )
    paid = await _get(http, f"{fb.base}/invoices/invoices/{invoice_id}", fb.headers)
    paid_invoice = paid["response"]["result"]["invoice"]
    echo(
        f"   Invoice {paid_invoice['invoice_number']} ({invoice_id}): "
        f"payment_status={paid_invoice['payment_status']}, outstanding="
        f"{paid_invoice['outstanding']['amount']}"
    )
    return DemoResult(
        freshbooks_client_id=client_id,
        salesforce_account_id=str(account["id"]),
        salesforce_opportunity_id=str(opportunity["id"]),
        opportunity_won=bool(won["IsWon"]),
        freshbooks_invoice_id=invoice_id,
        invoice_number=str(paid_invoice["invoice_number"]),
        invoice_payment_status=str(paid_invoice["payment_status"]),
    )


@dataclass(frozen=True)
class _FreshBooks:
    base: str
    headers: dict[str, str]


async def _freshbooks_session(http: httpx.AsyncClient, url: str) -> _FreshBooks:
    token = await _post(http, f"{url}/_sandbox/tokens", {}, {})
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    me = await _get(http, f"{url}/auth/api/v1/users/me", headers)
    account_id = me["response"]["business_memberships"][0]["business"]["account_id"]
    return _FreshBooks(f"{url}/accounting/account/{account_id}", headers)


async def _salesforce_headers(http: httpx.AsyncClient, url: str) -> dict[str, str]:
    token = await _post(http, f"{url}/_sandbox/tokens", {}, {})
    return {"Authorization": f"Bearer {token['access_token']}"}


async def _post(http: httpx.AsyncClient, url: str, body: JSON, headers: dict[str, str]) -> JSON:
    response = await http.post(url, json=body, headers=headers)
    response.raise_for_status()
    found: JSON = response.json()
    return found


async def _get(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> JSON:
    response = await http.get(url, headers=headers)
    response.raise_for_status()
    found: JSON = response.json()
    return found


def _summary(result: DemoResult, echo: Callable[[str], None]) -> None:
    echo("")
    echo("What runs now: both sandboxes, the store, and the scenario above through their APIs.")
    echo(
        "Not built yet: the sync flows that make steps 2-3 happen by themselves; until then "
        "the demo plays those steps itself. The dashboard (`uv run freshforce web`) shows "
        "the queue, dead letters, connections and alerts, not yet these records."
    )
    echo(
        f"Done: client {result.freshbooks_client_id} ↔ account {result.salesforce_account_id}, "
        f"invoice {result.invoice_number} {result.invoice_payment_status}."
    )


async def _serve_until_signal(
    servers: list[Any], tasks: list[asyncio.Task[None]], echo: Callable[[str], None]
) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: [server.request_stop() for server in servers])
    echo("Sandboxes keep running for you to explore. Ctrl-C stops.")
    await asyncio.gather(*tasks)
