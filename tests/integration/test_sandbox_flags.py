"""`freshforce sandbox` flags reach both servers: state file, latency, token lifetime."""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from freshforce.sandbox.core import SandboxServer
from freshforce.sandbox.launch import VENDORS, SandboxSettings

API = "/services/data/v59.0"


@contextmanager
def salesforce(settings: SandboxSettings) -> Iterator[httpx.Client]:
    """The Salesforce sandbox exactly as the command builds it, served on a free port."""
    vendor = dict(VENDORS)["salesforce"](settings)
    server = vendor.servers[0]
    assert isinstance(server, SandboxServer)
    server.start_in_thread()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            yield http
    finally:
        server.stop()
        asyncio.run(vendor.aclose())


def free(**changes) -> SandboxSettings:
    return SandboxSettings(salesforce_port=0, pubsub_port=0, **changes)


def bearer(http: httpx.Client) -> dict[str, str]:
    token = http.post("/_sandbox/tokens", json={}).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def test_salesforce_state_file_keeps_records_and_tokens_across_restarts(tmp_path: Path) -> None:
    settings = free(state_file=tmp_path / "s.json")
    with salesforce(settings) as http:
        headers = bearer(http)
        made = http.post(f"{API}/sobjects/Account/", json={"Name": "Kept Ltd"}, headers=headers)
        assert made.status_code == 201
        account_id = made.json()["id"]
    assert (tmp_path / "s.salesforce.json").is_file()
    with salesforce(settings) as http:
        found = http.get(f"{API}/sobjects/Account/{account_id}", headers=headers)
        assert found.status_code == 200  # the record, and the session that reads it, survived
        assert found.json()["Name"] == "Kept Ltd"
        again = http.post(f"{API}/sobjects/Account/", json={"Name": "Next"}, headers=headers)
        assert again.json()["id"] != account_id  # id counters were kept too


def test_salesforce_latency_flag_installs_a_latency_rule() -> None:
    with salesforce(free(latency_ms=250)) as http:
        rules = http.get("/_sandbox/faults").json()["faults"]
    assert [(r["kind"], r["latency_ms"]) for r in rules] == [("latency", 250)]


def test_salesforce_token_lifetime_flag_sets_the_session_timeout() -> None:
    with salesforce(free(token_lifetime=60)) as http:
        headers = bearer(http)
        assert http.get(f"{API}/sobjects/Account/describe", headers=headers).status_code == 200
        http.post("/_sandbox/clock/advance", json={"seconds": 61})
        expired = http.get(f"{API}/sobjects/Account/describe", headers=headers)
        assert expired.status_code == 401
    with salesforce(free()) as http:  # without the flag: Salesforce's own two hours
        headers = bearer(http)
        http.post("/_sandbox/clock/advance", json={"seconds": 61})
        assert http.get(f"{API}/sobjects/Account/describe", headers=headers).status_code == 200


def test_salesforce_auto_approve_skips_the_login_form() -> None:
    query = {
        "response_type": "code",
        "client_id": "freshforce-sandbox",
        "redirect_uri": "http://127.0.0.1:1/callback",
        "state": "xyz",
    }
    with salesforce(free(auto_approve=True)) as http:
        answer = http.get("/services/oauth2/authorize", params=query)
    assert answer.status_code in {302, 303}
    location = httpx.URL(answer.headers["location"])
    assert location.params["state"] == "xyz"
    assert location.params["code"]
