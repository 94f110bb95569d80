"""Caller-scoped fault rules and request-log filters in the shared sandbox machinery."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from freshforce.sandbox.core import (
    Caller,
    FaultResponse,
    FaultRule,
    SandboxRuntime,
    attribute_request,
    install,
)


class Renderer:
    def render_fault(self, rule: FaultRule, path: str) -> FaultResponse:
        return FaultResponse(rule.status or 503, {"down": path})


class Control:
    def reset(self) -> None:
        pass

    def seed(self, records: int, seed: int) -> dict[str, int]:
        return {"notes": records + seed * 0}

    def snapshot(self) -> dict[str, Any]:
        return {}

    def mint_token(self, user: str | None, expires_in: int | None) -> dict[str, Any]:
        return {"access_token": f"tok-{user}", "expires_in": expires_in}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    runtime = SandboxRuntime.create(seed=5)
    app = FastAPI()

    @app.api_route("/notes", methods=["GET", "POST", "PATCH"])
    async def notes(request: Request) -> dict[str, str]:
        attribute_request(request, "u1", "c1")
        return {"ok": request.method}

    install(app, runtime, Control(), Renderer())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sb") as client:
        yield client
    await runtime.aclose()


def test_a_scoped_rule_matches_only_its_caller_and_draws_nothing_for_others() -> None:
    alone, crowded = SandboxRuntime.create(seed=9), SandboxRuntime.create(seed=9)
    for runtime in (alone, crowded):
        runtime.faults.add(FaultRule(kind="error", probability=0.5, user="u2"))
        runtime.faults.add(FaultRule(kind="latency", client="web"))
    them, me = Caller("u2", "sync"), Caller("u1", "web")

    solo = [bool(alone.faults.fire("GET", "/x", them)) for _ in range(30)]
    mixed = []
    for _ in range(30):
        mine = crowded.faults.fire("GET", "/x", me)
        assert [rule.kind for rule in mine] == ["latency"]
        assert crowded.faults.fire("GET", "/x") == []  # nobody named: no scoped rule applies
        mixed.append(any(r.kind == "error" for r in crowded.faults.fire("GET", "/x", them)))

    assert solo == mixed  # the other callers' requests used none of the seeded draws
    assert 5 < sum(solo) < 25


async def test_without_a_user_directory_scoped_input_is_refused(http: httpx.AsyncClient) -> None:
    aimed = await http.post("/_sandbox/faults", json={"kind": "error", "user": "u1"})
    labelled = await http.post("/_sandbox/tokens", json={"user": "u1", "client": "web"})
    users = await http.get("/_sandbox/users")
    plain = await http.post("/_sandbox/tokens", json={"user": "u1"})

    assert aimed.status_code == 422
    assert "user" in aimed.text
    assert labelled.status_code == 422
    assert users.status_code == 404
    assert plain.json() == {"access_token": "tok-u1", "expires_in": None}


async def test_the_request_log_filters_by_method_and_writes(http: httpx.AsyncClient) -> None:
    for method in ("GET", "POST", "PATCH", "GET"):
        await http.request(method, "/notes")

    def methods(answer: httpx.Response) -> list[str]:
        return [entry["method"] for entry in answer.json()["requests"]]

    writes = await http.get("/_sandbox/requests", params={"method": "writes"})
    reads = await http.get("/_sandbox/requests", params={"method": "get", "user": "u1"})
    both = await http.get("/_sandbox/requests", params={"method": "PATCH,GET"})
    bad = await http.get("/_sandbox/requests", params={"method": "writes,BREW"})

    assert methods(writes) == ["POST", "PATCH"]
    assert methods(reads) == ["GET", "GET"]
    assert methods(both) == ["GET", "PATCH", "GET"]
    assert bad.status_code == 422
    assert "BREW" in bad.text
    assert {entry["user_name"] for entry in writes.json()["requests"]} == {None}
