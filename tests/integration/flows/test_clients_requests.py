"""The requests one synced change costs: a new FreshBooks client becomes an Account + Contact."""

from __future__ import annotations

import re
from collections import Counter

from .conftest import World

_ID = re.compile(r"/\d+(?=/|$)")


async def _served(world: World) -> Counter[str]:
    """Count the API requests both sandboxes served to freshforce, by method and path shape."""
    seen = await world.requests("salesforce")
    return Counter(
        f"{r['method']} {_ID.sub('/{id}', r['path'])}"
        for r in seen
        if r["path"].startswith(("/accounting/", "/services/"))
    )


async def test_a_new_client_costs_one_read_two_searches_and_two_writes(world: World) -> None:
    warm = await world.fb_create(organization="Warm Up Ltd", fname="Wa", lname="Rm")
    await world.sync(f"freshbooks/client/{warm}")  # the describe and the tokens, read once
    fb_id = await world.fb_create(
        organization="Umbrella Corp", fname="Alice", lname="Abernathy",
        email="alice@umbrella.example",
    )  # fmt: skip
    await world.clear_requests()
    await world.sync(f"freshbooks/client/{fb_id}")
    account = "/services/data/v59.0/composite/sobjects/Account/FreshBooks_Client_Id__c"
    assert await _served(world) == Counter(
        {
            "GET /accounting/account/SBX7QK/users/clients": 1,  # the client, read by id
            # the candidates: Accounts by external id or name (one query), Contacts by e-mail
            "GET /services/data/v59.0/query": 2,
            f"PATCH {account}": 1,  # the Account, upserted by external id
            "POST /services/data/v59.0/composite/sobjects": 1,  # its primary Contact
        }
    )
    [found] = await world.soql(
        f"SELECT Name FROM Account WHERE FreshBooks_Client_Id__c = '{fb_id}'"  # noqa: S608 - SOQL, values quoted
    )
    assert found["Name"] == "Umbrella Corp"
