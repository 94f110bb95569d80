"""What a tester sees and sets on the Salesforce sandbox: request log, clock, API allocation."""

from __future__ import annotations

from typing import Any

import httpx
from sforg import API, Org

from freshforce.sandbox.core import SandboxRuntime
from freshforce.sandbox.salesforce.build import build_salesforce_sandbox


async def test_request_log_shows_who_wrote_what_with_call_options_and_no_token(org: Org) -> None:
    await org.http.delete("/_sandbox/requests")
    other = await org.admin_token("admin@freshforce.sandbox")
    headers = {**org.headers, "Sforce-Call-Options": "client=freshforce"}
    made = await org.http.post(f"{API}/sobjects/Account", json={"Name": "Logged"}, headers=headers)
    await org.http.get(f"{API}/limits", headers={"Authorization": f"Bearer {other}"})

    log = (await org.http.get("/_sandbox/requests", params={"path": f"{API}/sobjects/"})).json()
    (write,) = log["requests"]
    assert write["method"] == "POST"
    assert write["status"] == 201
    assert write["headers"]["sforce-call-options"] == "client=freshforce"
    assert org.token not in str(write)
    assert "Logged" in write["request_body"]
    assert made.json()["id"] in write["response_body"]
    by_user = (await org.http.get("/_sandbox/requests", params={"user": write["user"]})).json()
    assert len(by_user["requests"]) == 2  # both tokens belong to the admin user
    assert (await org.http.get("/_sandbox/requests", params={"user": "005nobody"})).json() == {
        "requests": []
    }
    await org.http.post("/_sandbox/reset")
    assert (await org.http.get("/_sandbox/requests")).json() == {"requests": []}


async def test_api_allocation_can_be_set_used_and_renewed_by_the_clock(org: Org) -> None:
    set_to = await org.http.put("/_sandbox/salesforce/limits", json={"max_calls": 10, "used": 9})
    assert set_to.json() == {"max_calls": 10, "used": 9, "header": "api-usage=9/10"}

    last = await org.get("limits")
    refused = await org.get("limits")
    await org.http.post("/_sandbox/clock/advance", json={"seconds": 24 * 3600 + 1})
    org.token = await org.admin_token()  # the old session timed out too
    renewed = await org.get("limits")

    assert last.status_code == 200
    assert last.headers["sforce-limit-info"] == "api-usage=10/10"
    assert refused.status_code == 403
    assert refused.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert renewed.status_code == 200
    assert renewed.headers["sforce-limit-info"] == "api-usage=1/10"
    reset = await org.http.put("/_sandbox/salesforce/limits", json={"reset": True})
    assert reset.json()["used"] == 0


async def test_advancing_the_clock_expires_sessions_and_stamps_records(org: Org) -> None:
    await org.http.put("/_sandbox/clock", json={"offset_seconds": -86400})
    org.token = await org.admin_token()
    made = await org.create("Account", {"Name": "Yesterday"})
    created = (await org.get(f"sobjects/Account/{made}")).json()["CreatedDate"]
    clock = (await org.http.get("/_sandbox/clock")).json()
    assert clock["offset_seconds"] == -86400
    assert created[:10] == clock["now"][:10]

    await org.http.post("/_sandbox/clock/advance", json={"seconds": 2 * 3600 + 1})
    expired = await org.get(f"sobjects/Account/{made}")

    assert expired.status_code == 401
    assert expired.json()[0]["errorCode"] == "INVALID_SESSION_ID"


async def test_line_item_totals_apply_the_discount_and_roll_up_to_the_amount(org: Org) -> None:
    product = await org.create("Product2", {"Name": "Widget", "IsActive": True})
    book = org.sandbox.state.standard_pricebook_id()
    entry = await org.create(
        "PricebookEntry",
        {"Pricebook2Id": book, "Product2Id": product, "UnitPrice": 40, "IsActive": True},
    )
    account = await org.create("Account", {"Name": "Buyer"})
    deal = await org.create(
        "Opportunity",
        {"Name": "D", "StageName": "Prospecting", "CloseDate": "2025-01-31", "AccountId": account},
    )
    body = {"OpportunityId": deal, "PricebookEntryId": entry}
    first = await org.create("OpportunityLineItem", {**body, "Quantity": 3, "Discount": 12.5})
    await org.create("OpportunityLineItem", {**body, "Quantity": 2, "UnitPrice": 19.99})

    items = (await org.get(f"sobjects/OpportunityLineItem/{first}")).json()
    amount = (await org.get(f"sobjects/Opportunity/{deal}")).json()["Amount"]
    await org.http.delete(f"{API}/sobjects/OpportunityLineItem/{first}", headers=org.headers)
    after = (await org.get(f"sobjects/Opportunity/{deal}")).json()["Amount"]

    assert items["UnitPrice"] == 40
    assert items["TotalPrice"] == 105.0  # 3 x 40 less 12.5 %
    assert amount == 144.98  # 105.00 + 2 x 19.99
    assert after == 39.98


async def _merge_story(seed: int) -> tuple[list[dict[str, Any]], list[str]]:
    """Seed, merge and undelete through the admin API; return the answers and transaction keys."""
    runtime = SandboxRuntime.create(seed=seed)
    sandbox = build_salesforce_sandbox(runtime, seed=seed)
    transport = httpx.ASGITransport(app=sandbox.app)
    answers: list[dict[str, Any]] = []
    async with httpx.AsyncClient(transport=transport, base_url="https://sf.test") as http:
        await http.post("/_sandbox/seed", json={"records": 2, "seed": seed})
        seeded = await http.post(
            "/_sandbox/salesforce/records",
            json={"object": "Account", "records": [{"fields": {"Name": n}} for n in "ABC"]},
        )
        master, *losers = seeded.json()["ids"]
        answers.append(seeded.json())
        for path, body in (
            ("ui/merge", {"object": "Account", "master": master, "losers": losers}),
            ("ui/undelete", {"id": losers[0]}),
        ):
            answers.append((await http.post(f"/_sandbox/salesforce/{path}", json=body)).json())
    keys = [change.transaction_key for change in sandbox.state.changes.since(0)]
    await runtime.aclose()
    return answers, keys


async def test_ui_actions_are_deterministic_for_a_seed() -> None:
    first, again, other = await _merge_story(5), await _merge_story(5), await _merge_story(6)

    assert first == again
    answers, keys = first
    assert answers[-1] == {"undeleted": answers[0]["ids"][1]}
    assert len(set(keys)) == 3  # seed, merge, undelete; the silent seeds log nothing
    assert first[1] != other[1]  # transaction keys follow the seed
