"""The demo's story: what a person does in each system, and what freshforce does about it.

Every action goes through the sandboxes' public APIs with the person's own tokens; every
"then" waits for freshforce (running as a service) to have done its part, read back from the
other system, and says how long it took.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

__all__ = ["DemoResult", "Person", "play"]

_SF_API = "/services/data/v59.0"
_WAIT_SECONDS = 90.0
JSON = dict[str, Any]


@dataclass(frozen=True)
class Person:
    """Someone working in both systems with their own sessions."""

    fb_base: str  # .../accounting/account/<id>
    fb_headers: dict[str, str]
    sf_url: str
    sf_headers: dict[str, str]


@dataclass(frozen=True)
class DemoResult:
    """What the story made, by system, for the summary and the tests."""

    freshbooks_client_id: int
    salesforce_account_id: str
    salesforce_opportunity_id: str
    opportunity_won: bool
    freshbooks_invoice_id: int
    invoice_number: str
    invoice_payment_status: str
    opportunity_payment_status: str


async def play(http: httpx.AsyncClient, person: Person, echo: Callable[[str], None]) -> DemoResult:
    """Play client → Account, won deal → invoice, payment → paid deal; return what was made."""
    echo("")
    echo("1. Ada adds a client in FreshBooks")
    client = await _send(http, "POST", f"{person.fb_base}/users/clients", person.fb_headers, {
        "client": {"fname": "Ada", "lname": "Lovelace", "email": "ada@analytical.example",
                   "organization": "Analytical Engines Ltd", "p_city": "London"},
    })  # fmt: skip
    client_id = int(client["response"]["result"]["client"]["id"])
    echo(f"   FreshBooks client {client_id}: Analytical Engines Ltd <ada@analytical.example>")
    query = f"SELECT Id, Name FROM Account WHERE FreshBooks_Client_Id__c = '{client_id}'"  # noqa: S608 - an integer
    account = await _until(lambda: _one(http, person, query), "the Account")
    echo(f"   → freshforce made Account {account['Id']} with its Contact Ada Lovelace")

    echo("2. Ada's colleague wins a deal with them in Salesforce")
    close = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    opportunity = await _send(http, "POST", f"{person.sf_url}{_SF_API}/sobjects/Opportunity/",
                              person.sf_headers, {
        "Name": "Difference Engine No. 2", "AccountId": account["Id"],
        "StageName": "Prospecting", "CloseDate": close, "Amount": 1200,
    })  # fmt: skip
    deal = str(opportunity["id"])
    await _send(http, "PATCH", f"{person.sf_url}{_SF_API}/sobjects/Opportunity/{deal}",
                person.sf_headers, {"StageName": "Closed Won"})  # fmt: skip
    fields = (
        "IsWon, FreshBooks_Invoice_Id__c, FreshBooks_Invoice_Number__c, "
        "FreshBooks_Payment_Status__c"
    )
    query = (
        f"SELECT {fields} FROM Opportunity WHERE Id = '{deal}' AND FreshBooks_Invoice_Id__c != null"  # noqa: S608 - an id we were given
    )
    won = await _until(lambda: _one(http, person, query), "the invoice")
    invoice_id = int(won["FreshBooks_Invoice_Id__c"])
    echo(f"   Opportunity {deal} is Closed Won")
    echo(f"   → freshforce made invoice {won['FreshBooks_Invoice_Number__c']} ({invoice_id}) "
         "in FreshBooks and wrote it back on the deal")  # fmt: skip

    echo("3. The client pays; the payment is recorded in FreshBooks")
    today = datetime.now(UTC).date().isoformat()
    await _send(http, "POST", f"{person.fb_base}/payments/payments", person.fb_headers, {
        "payment": {"invoiceid": invoice_id, "amount": {"amount": "1200.00", "code": "USD"},
                    "date": today, "type": "Check"},
    })  # fmt: skip
    query = (
        f"SELECT {fields}, FreshBooks_Amount_Paid__c FROM Opportunity WHERE Id = '{deal}' "  # noqa: S608 - same
        "AND FreshBooks_Payment_Status__c = 'Paid'"
    )
    paid = await _until(lambda: _one(http, person, query), "the payment status")
    echo(f"   → freshforce marked the deal {paid['FreshBooks_Payment_Status__c']}, "
         f"amount paid {paid['FreshBooks_Amount_Paid__c']}")  # fmt: skip
    invoice = await _send(
        http, "GET", f"{person.fb_base}/invoices/invoices/{invoice_id}", person.fb_headers
    )
    body = invoice["response"]["result"]["invoice"]
    echo(f"   Invoice {body['invoice_number']}: payment_status={body['payment_status']}")
    return DemoResult(
        freshbooks_client_id=client_id,
        salesforce_account_id=str(account["Id"]),
        salesforce_opportunity_id=deal,
        opportunity_won=bool(won["IsWon"]),
        freshbooks_invoice_id=invoice_id,
        invoice_number=str(body["invoice_number"]),
        invoice_payment_status=str(body["payment_status"]),
        opportunity_payment_status=str(paid["FreshBooks_Payment_Status__c"]),
    )


async def _send(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    headers: dict[str, str],
    body: JSON | None = None,
) -> JSON:
    response = await http.request(method, url, json=body, headers=headers)
    response.raise_for_status()
    found: JSON = response.json() if response.content else {}
    return found


async def _one(http: httpx.AsyncClient, person: Person, soql: str) -> JSON | None:
    found = await _send(
        http,
        "GET",
        f"{person.sf_url}{_SF_API}/query?{httpx.QueryParams(q=soql)}",
        person.sf_headers,
    )
    records: list[JSON] = found.get("records") or []
    return records[0] if records else None


async def _until(check: Callable[[], Awaitable[JSON | None]], what: str) -> JSON:
    started = time.monotonic()
    while time.monotonic() - started < _WAIT_SECONDS:
        found = await check()
        if found is not None:
            return found
        await asyncio.sleep(0.2)
    msg = f"freshforce did not write {what} within {_WAIT_SECONDS:.0f} s: see the dashboard"
    raise TimeoutError(msg)
