"""The configuration page and API: the flow maps in force, their problems, the version history."""

from __future__ import annotations

from pathlib import Path

import httpx
from web_support import login

from freshforce.mapping import write_defaults
from freshforce.settings import Settings
from freshforce.store.schema import config_versions
from freshforce.web import create_app


async def test_the_shipped_maps_with_rules_and_policies(app_client):
    await login(app_client, "vic")
    answer = await app_client.get("/api/configuration")
    assert answer.status_code == 200
    view = answer.json()
    assert [f["flow"] for f in view["flows"]] == ["clients", "invoices", "payments"]
    assert view["problems"] == []
    assert view["versions"] == []
    clients = view["flows"][0]
    email = next(r for r in clients["rules"] if r["salesforce"] == ["Contact.Email"])
    assert email["policy"] == "review"
    assert email["chains"]["to_salesforce"]["steps"] == ["trim", "lower"]
    name = next(r for r in clients["rules"] if r["salesforce"] == ["Account.Name"])
    assert name["policy"] == "newest_wins"
    assert name["required"] is True
    page = await app_client.get("/configuration")
    assert page.status_code == 200
    assert 'id="flow-clients"' in page.text
    assert '<td class="policy">review</td>' in page.text
    assert "No versions recorded." in page.text


async def _client(store_engine, settings: Settings) -> httpx.AsyncClient:
    app = create_app(store_engine, settings=settings)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_an_edited_map_shows_and_a_broken_one_lists_its_problems(
    store_engine, users, tmp_path: Path
):
    config_dir = tmp_path / "maps"
    write_defaults(config_dir)
    clients = config_dir / "clients.yaml"
    clients.write_text(clients.read_text().replace("policy: review", "policy: salesforce_wins"))
    settings = Settings(data_dir=tmp_path, config_dir=config_dir, web_session_key="k" * 40)
    async with await _client(store_engine, settings) as web:
        await login(web, "vic")
        view = (await web.get("/api/configuration")).json()
        [flow] = [f for f in view["flows"] if f["flow"] == "clients"]
        email = next(r for r in flow["rules"] if r["salesforce"] == ["Contact.Email"])
        assert email["policy"] == "salesforce_wins"
        clients.write_text(clients.read_text().replace("policy: salesforce_wins", "policy: coin"))
        broken = (await web.get("/api/configuration")).json()
        assert broken["flows"] == []
        assert any("clients.yaml:" in p and ".policy" in p for p in broken["problems"])
        page = await web.get("/configuration")
        assert "The maps have problems" in page.text


async def test_recorded_versions_are_listed_without_their_content(app_client, store_engine, clock):
    async with store_engine.begin() as db:
        for version, active in ((1, False), (2, True)):
            await db.execute(
                config_versions.insert().values(
                    profile="prod",
                    version=version,
                    content=f"secret-ish content {version}",
                    checksum=f"{version:064d}",
                    active=active,
                    created_by="olga",
                    created_at=clock(),
                )
            )
    await login(app_client, "vic")
    versions = (await app_client.get("/api/configuration")).json()["versions"]
    assert [(v["version"], v["active"]) for v in versions] == [(2, True), (1, False)]
    assert all("content" not in v for v in versions)
    page = await app_client.get("/configuration")
    assert 'id="versions"' in page.text
    assert "content 2" not in page.text
    assert "No versions recorded." not in page.text


async def test_configuration_needs_a_login(app_client):
    assert (await app_client.get("/api/configuration")).status_code == 401
    assert (await app_client.get("/configuration")).status_code == 303
