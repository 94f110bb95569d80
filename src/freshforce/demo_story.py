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
    """Play the four steps; after each, wait for freshforce's part and say how long it took."""
    sf = _Salesforce(http, person)
    echo("")
    echo("1. Ada adds a client in FreshBooks")
    started = time.monotonic()
    client = await _send(http, "POST", f"{person.fb_base}/users/clients", person.fb_headers, {
        "client": {"fname": "Ada", "lname": "Lovelace", "email": "ada@analytical.example",
                   "organization": "Analytical Engines Ltd", "p_city": "London"},
    })  # fmt: skip
    client_id = int(client["response"]["result"]["client"]["id"])
    query = f"SELECT Id, Name FROM Account WHERE FreshBooks_Client_Id__c = '{client_id}'"  # noqa: S608 - an integer
    account = await _until(lambda: sf.one(query), "the Account")
    echo(f"   FreshBooks client {client_id}: Analytical Engines Ltd <ada@analytical.example>")
    echo(
        f"   → Account {account['Id']} with its Contact Ada Lovelace in Salesforce{_took(started)}"
    )

    echo("2. A colleague corrects the Account's city in Salesforce")
    started = time.monotonic()
    await sf.send("PATCH", f"sobjects/Account/{account['Id']}", {"BillingCity": "Marylebone"})
    await _until(lambda: _client_in(http, person, client_id, "Marylebone"), "the client's city")
    echo(f"   → the FreshBooks client's city is Marylebone{_took(started)}")

    echo("3. A deal with three products is won in Salesforce")
    started = time.monotonic()
    deal = await _deal(sf, account["Id"])
    fields = (
        "IsWon, FreshBooks_Invoice_Id__c, FreshBooks_Invoice_Number__c, "
        "FreshBooks_Payment_Status__c, FreshBooks_Amount_Paid__c, FreshBooks_Balance__c"
    )
    query = (
        f"SELECT {fields} FROM Opportunity WHERE Id = '{deal}' AND FreshBooks_Invoice_Id__c != null"  # noqa: S608 - an id we were given
    )
    won = await _until(lambda: sf.one(query), "the invoice")
    invoice_id = int(won["FreshBooks_Invoice_Id__c"])
    invoice = await _invoice(http, person, invoice_id)
    echo(f"   Opportunity {deal}: Closed Won, 3 line items, 1,800.00")
    number, lines = won["FreshBooks_Invoice_Number__c"], len(invoice.get("lines") or [])
    echo(f"   → invoice {number} in FreshBooks with {lines} lines, its number on the deal"
         f"{_took(started)}")  # fmt: skip

    echo("4. The client pays 800.00, then the rest, recorded in FreshBooks")
    paid: JSON = {}
    for amount, status in (("800.00", "Partially Paid"), ("1000.00", "Paid")):
        started = time.monotonic()
        await _send(http, "POST", f"{person.fb_base}/payments/payments", person.fb_headers, {
            "payment": {"invoiceid": invoice_id, "amount": {"amount": amount, "code": "USD"},
                        "date": datetime.now(UTC).date().isoformat(), "type": "Check"},
        })  # fmt: skip
        query = (
            f"SELECT {fields} FROM Opportunity WHERE Id = '{deal}' "  # noqa: S608 - same
            f"AND FreshBooks_Payment_Status__c = '{status}'"
        )
        paid = await _until(lambda q=query: sf.one(q), f"the status {status}")  # type: ignore[misc]
        echo(f"   → the deal shows {status}: paid {paid['FreshBooks_Amount_Paid__c']}, "
             f"balance {paid['FreshBooks_Balance__c']}{_took(started)}")  # fmt: skip
    invoice = await _invoice(http, person, invoice_id)
    return DemoResult(
        freshbooks_client_id=client_id,
        salesforce_account_id=str(account["Id"]),
        salesforce_opportunity_id=deal,
        opportunity_won=bool(won["IsWon"]),
        freshbooks_invoice_id=invoice_id,
        invoice_number=str(invoice["invoice_number"]),
        invoice_payment_status=str(invoice["payment_status"]),
        opportunity_payment_status=str(paid["FreshBooks_Payment_Status__c"]),
    )


@dataclass(frozen=True)
class _Salesforce:
    http: httpx.AsyncClient
    person: Person

    async def send(self, method: str, path: str, body: JSON | None = None) -> JSON:
        url = f"{self.person.sf_url}{_SF_API}/{path}"
        return await _send(self.http, method, url, self.person.sf_headers, body)

    async def one(self, soql: str) -> JSON | None:
        found = await self.send("GET", f"query?{httpx.QueryParams(q=soql)}")
        records: list[JSON] = found.get("records") or []
        return records[0] if records else None

    async def create(self, sobject: str, fields: JSON) -> str:
        return str((await self.send("POST", f"sobjects/{sobject}/", fields))["id"])


async def _deal(sf: _Salesforce, account_id: str) -> str:
    """Create an open deal with three products, then mark it Closed Won; return its id."""
    close = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    deal = await sf.create("Opportunity", {
        "Name": "Difference Engine No. 2", "AccountId": account_id,
        "StageName": "Prospecting", "CloseDate": close,
    })  # fmt: skip
    book = await sf.one("SELECT Id FROM Pricebook2 WHERE IsStandard = TRUE")
    assert book is not None  # noqa: S101 - every org has its standard price book
    for name, price, quantity in (("Mill", 1000, 1), ("Store", 300, 2), ("Printer", 200, 1)):
        product = await sf.create("Product2", {"Name": name, "IsActive": True})
        entry = await sf.create("PricebookEntry", {
            "Pricebook2Id": book["Id"], "Product2Id": product, "UnitPrice": price,
            "IsActive": True,
        })  # fmt: skip
        await sf.create("OpportunityLineItem", {
            "OpportunityId": deal, "PricebookEntryId": entry, "Quantity": quantity,
            "UnitPrice": price,
        })  # fmt: skip
    await sf.send("PATCH", f"sobjects/Opportunity/{deal}", {"StageName": "Closed Won"})
    return deal


async def _client_in(
    http: httpx.AsyncClient, person: Person, client_id: int, city: str
) -> JSON | None:
    found = await _send(
        http, "GET", f"{person.fb_base}/users/clients/{client_id}", person.fb_headers
    )
    client: JSON = found["response"]["result"]["client"]
    return client if client.get("p_city") == city else None


async def _invoice(http: httpx.AsyncClient, person: Person, invoice_id: int) -> JSON:
    url = f"{person.fb_base}/invoices/invoices/{invoice_id}?include[]=lines"
    found = await _send(http, "GET", url, person.fb_headers)
    invoice: JSON = found["response"]["result"]["invoice"]
    return invoice


def _took(started: float) -> str:
    return f" ({time.monotonic() - started:.1f} s)"


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


async def _until(check: Callable[[], Awaitable[JSON | None]], what: str) -> JSON:
    started = time.monotonic()
    while time.monotonic() - started < _WAIT_SECONDS:
        found = await check()
        if found is not None:
            return found
        await asyncio.sleep(0.2)
    msg = f"freshforce did not write {what} within {_WAIT_SECONDS:.0f} s: see the dashboard"
    raise TimeoutError(msg)
