"""One FreshBooks sandbox serving several accounts: each token sees its own account only."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from freshforce.sandbox.freshbooks import DEFAULT_APP, FreshBooksOptions, build_freshbooks
from freshforce.sandbox.multi import FreshBooksAccounts, account_owner

REDIRECT = "http://127.0.0.1:9/callback"


@pytest.fixture
async def accounts() -> AsyncIterator[tuple[FreshBooksAccounts, httpx.AsyncClient]]:
    front = FreshBooksAccounts(
        [build_freshbooks(FreshBooksOptions(seed=5 + n, owner=account_owner(n))) for n in range(3)]
    )
    transport = httpx.ASGITransport(app=front)
    async with httpx.AsyncClient(transport=transport, base_url="http://fb.test") as client:
        yield front, client
    await front.aclose()


async def token_of(client: httpx.AsyncClient, number: int) -> str:
    minted = await client.post(f"/_sandbox/accounts/{number}/tokens", json={})
    assert minted.status_code == 200, minted.text
    return str(minted.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_same_ids_and_names_in_two_accounts_stay_apart(
    accounts: tuple[FreshBooksAccounts, httpx.AsyncClient],
) -> None:
    front, client = accounts
    ids = [sb.state.owner.account_id for sb in front.accounts]
    assert ids[0] == "SBX7QK"
    assert len(set(ids)) == 3
    made = {}
    for n in (0, 1):
        token = await token_of(client, n)
        body = {"client": {"organization": "Acme", "email": f"a{n}@acme.test"}}
        created = await client.post(
            f"/accounting/account/{ids[n]}/users/clients", json=body, headers=bearer(token)
        )
        assert created.status_code == 200, created.text
        made[n] = (token, created.json()["response"]["result"]["client"])
    assert made[0][1]["id"] == made[1][1]["id"]  # the same id, in two accounts
    for n in (0, 1):
        token, _ = made[n]
        listed = await client.get(
            f"/accounting/account/{ids[n]}/users/clients", headers=bearer(token)
        )
        clients = listed.json()["response"]["result"]["clients"]
        assert [c["email"] for c in clients] == [f"a{n}@acme.test"]
        me = await client.get("/auth/api/v1/users/me", headers=bearer(token))
        assert me.json()["response"]["business_memberships"][0]["business"]["account_id"] == ids[n]
    # Account 0's token gets nothing from account 1's path.
    crossed = await client.get(
        f"/accounting/account/{ids[1]}/users/clients", headers=bearer(made[0][0])
    )
    assert crossed.status_code in (401, 403), crossed.text
    empty = await client.get(f"/_sandbox/accounts/{ids[2]}/snapshot")
    assert (
        empty.json()["accounting"]
        != (await client.get("/_sandbox/accounts/1/snapshot")).json()["accounting"]
    )
    listed = (await client.get("/_sandbox/accounts")).json()["accounts"]
    assert [a["account_id"] for a in listed] == ids
    missing = await client.get("/_sandbox/accounts/9/snapshot")
    assert missing.status_code == 404
    assert "9" in missing.json()["detail"]


async def test_oauth_logs_in_to_the_account_of_the_user(
    accounts: tuple[FreshBooksAccounts, httpx.AsyncClient],
) -> None:
    front, client = accounts
    params = {
        "client_id": DEFAULT_APP.client_id,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "state": "s1",
    }
    chooser = await client.get("/oauth/authorize", params=params)
    assert chooser.status_code == 200
    for sb in front.accounts:
        assert sb.state.owner.email in chooser.text
    owner = account_owner(2)
    consent = await client.get("/oauth/authorize", params=params | {"user": owner.email})
    assert owner.business_name in consent.text
    decided = await client.post(
        "/oauth/authorize", data=params | {"user": owner.email, "decision": "approve"}
    )
    assert decided.status_code == 302, decided.text
    code = parse_qs(urlsplit(decided.headers["location"]).query)["code"][0]
    granted = await client.post(
        "/auth/oauth/token",
        json={
            "grant_type": "authorization_code",
            "client_id": DEFAULT_APP.client_id,
            "client_secret": DEFAULT_APP.client_secret,
            "redirect_uri": REDIRECT,
            "code": code,
        },
    )
    assert granted.status_code == 200, granted.text
    me = await client.get("/auth/api/v1/users/me", headers=bearer(granted.json()["access_token"]))
    assert re.search(owner.account_id, me.text)
    assert me.json()["response"]["email"] == owner.email
    refreshed = await client.post(
        "/auth/oauth/token",
        json={
            "grant_type": "refresh_token",
            "client_id": DEFAULT_APP.client_id,
            "client_secret": DEFAULT_APP.client_secret,
            "redirect_uri": REDIRECT,
            "refresh_token": granted.json()["refresh_token"],
        },
    )
    assert refreshed.status_code == 200, refreshed.text
    assert front.by_token(refreshed.json()["access_token"]) is front.accounts[2]
