"""A NUL character in a path or query is bad input (422 naming it), never a database error."""

from __future__ import annotations

import httpx
import pytest
from web_support import login


@pytest.mark.parametrize(
    ("url", "where"),
    [
        ("/api/conflicts?state=resolved&tenant=%00", ["query", "tenant"]),
        ("/api/dead-letters?flow=a%00b", ["query", "flow"]),
        ("/records?q=%00", ["query", "q"]),
        ("/api/conflicts/%00", ["path"]),
    ],
)
async def test_a_nul_character_is_refused_with_its_place(
    app_client: httpx.AsyncClient, url: str, where: list[str]
) -> None:
    await login(app_client, "vic")
    answer = await app_client.get(url)
    assert answer.status_code == 422
    assert answer.json() == {"detail": [{"loc": where, "msg": "contains a NUL character"}]}


async def test_the_same_calls_without_nul_still_answer(app_client: httpx.AsyncClient) -> None:
    await login(app_client, "vic")
    answer = await app_client.get("/api/conflicts", params={"state": "resolved", "tenant": "x"})
    assert answer.status_code == 200
    assert answer.json() == []


async def test_a_nul_character_in_a_json_body_is_refused(app_client: httpx.AsyncClient) -> None:
    await login(app_client, "olga")
    body = '{"take": "value", "value": "a\\u0000b"}'
    answer = await app_client.post(
        "/api/conflicts/1/resolve", content=body, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body"]
    fine = await app_client.post(
        "/api/conflicts/1/resolve",
        content='{"take": "value", "value": "ab"}',
        headers={"content-type": "application/json"},
    )
    assert fine.status_code == 403  # read through to the route, which wants its CSRF token
