"""Ambiguous matches settled from the dashboard, end to end on both sandboxes and a real worker."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa

from freshforce.settings import Settings
from freshforce.store.audit import list_audit
from freshforce.store.links import find_links
from freshforce.store.schema import dead_letters
from freshforce.store.scope import Scope
from freshforce.store.users import Role, add_user
from freshforce.web import create_app
from freshforce.web.passwords import hash_password

from .conftest import World

SCOPE = Scope("default", "clients")
PASSWORD = "correct horse battery"


async def _dashboard(world: World, tmp_path: Path) -> httpx.AsyncClient:
    """The dashboard on the world's store, with operator olga and viewer vic."""
    digest = hash_password(PASSWORD)
    async with world.engine.begin() as db:
        for name, role in (("olga", Role.OPERATOR), ("vic", Role.VIEWER)):
            await add_user(
                db, username=name, password_hash=digest, role=role, now=datetime.now(UTC)
            )
    settings = Settings(data_dir=tmp_path / "web", web_session_key="k" * 40)
    app = create_app(world.engine, settings=settings)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def _login(client: httpx.AsyncClient, username: str) -> str:
    form = await client.get("/login")
    token = form.cookies.get("ff_login_csrf") or client.cookies.get("ff_login_csrf")
    data = {"username": username, "password": PASSWORD, "csrf_token": token, "next": "/"}
    assert (await client.post("/login", data=data)).status_code == 303
    return str((await client.get("/api/me")).json()["csrf_token"])


async def _ambiguous(world: World) -> tuple[int, str, str]:
    """A FreshBooks client two Accounts match: return (client id, first, second Account)."""
    first = await world.sf_create("Account", Name="Oscorp")
    second = await world.sf_create("Account", Name="Oscorp Ltd")
    fb_id = await world.fb_create(organization="Oscorp", lname="Osborn")
    await world.sync(f"freshbooks/client/{fb_id}")
    return fb_id, first, second


async def _letter_id(world: World) -> int:
    async with world.engine.connect() as db:
        [row] = (await db.execute(sa.select(dead_letters.c.id))).all()
    return int(row.id)


async def test_picking_a_candidate_links_it_and_syncs(world: World, tmp_path: Path) -> None:
    fb_id, first, second = await _ambiguous(world)
    letter = await _letter_id(world)
    async with await _dashboard(world, tmp_path) as web:
        token = await _login(web, "olga")
        [listed] = (await web.get("/api/matches")).json()
        assert listed["key"] == f"freshbooks/client/{fb_id}"
        assert sorted(c["id"] for c in listed["candidates"]) == sorted([first, second])
        page = await web.get(f"/matches/{letter}")
        assert page.status_code == 200
        assert f'id="pick-{second}"' in page.text
        assert 'id="create-new"' in page.text
        answer = await web.post(
            f"/matches/{letter}/resolve", data={"choice": second, "csrf_token": token}
        )
        assert answer.status_code == 303
        await world.sync()
        assert (await web.get("/api/matches")).json() == []
        settled = await web.get(f"/api/matches/{letter}")
        assert settled.status_code == 409
    async with world.engine.connect() as db:
        [link] = await find_links(db, SCOPE, freshbooks_ids=[str(fb_id)])
        [audit] = await list_audit(db, actor="olga")
    assert link.salesforce_id == second
    [account] = await world.soql(
        f"SELECT FreshBooks_Client_Id__c FROM Account WHERE Id = '{second}'"  # noqa: S608
    )
    assert account["FreshBooks_Client_Id__c"] == str(fb_id)
    assert len(await world.soql("SELECT Id FROM Account")) == 2  # nothing created
    assert audit.action == "match.resolve"
    assert audit.detail["choice"] == second
    assert sorted(audit.detail["candidates"]) == sorted([first, second])


async def test_create_new_makes_a_third_account(world: World, tmp_path: Path) -> None:
    fb_id, first, second = await _ambiguous(world)
    letter = await _letter_id(world)
    async with await _dashboard(world, tmp_path) as web:
        token = await _login(web, "olga")
        answer = await web.post(
            f"/api/matches/{letter}/resolve",
            json={"choice": "new"},
            headers={"X-CSRF-Token": token},
        )
        assert answer.status_code == 200, answer.text
        await world.sync()
    async with world.engine.connect() as db:
        [link] = await find_links(db, SCOPE, freshbooks_ids=[str(fb_id)])
    assert link.salesforce_id not in {first, second}
    assert len(await world.soql("SELECT Id FROM Account")) == 3


async def test_a_candidate_linked_meanwhile_is_refused_not_guessed(
    world: World, tmp_path: Path
) -> None:
    fb_id, first, _ = await _ambiguous(world)
    letter = await _letter_id(world)
    other = await world.fb_create(organization="Other Co", lname="Else")
    await world.sf_update(first, FreshBooks_Client_Id__c=str(other))
    await world.sync(f"freshbooks/client/{other}")
    async with world.engine.connect() as db:
        [taken] = await find_links(db, SCOPE, freshbooks_ids=[str(other)])
    assert taken.salesforce_id == first
    async with await _dashboard(world, tmp_path) as web:
        token = await _login(web, "olga")
        answer = await web.post(
            f"/api/matches/{letter}/resolve",
            json={"choice": first},
            headers={"X-CSRF-Token": token},
        )
        assert answer.status_code == 200, answer.text
        await world.sync()
    async with world.engine.connect() as db:
        assert await find_links(db, SCOPE, freshbooks_ids=[str(fb_id)]) == []
        rows = (await db.execute(sa.select(dead_letters).where(dead_letters.c.id != letter))).all()
    assert [r.error_class for r in rows] == ["PermanentError"]
    assert "is linked to another record now" in rows[0].error_message


async def test_bad_choice_role_and_csrf_are_refused(world: World, tmp_path: Path) -> None:
    _, first, _ = await _ambiguous(world)
    letter = await _letter_id(world)
    async with await _dashboard(world, tmp_path) as web:
        token = await _login(web, "olga")
        wrong = await web.post(
            f"/api/matches/{letter}/resolve",
            json={"choice": "001000000000999AAA"},
            headers={"X-CSRF-Token": token},
        )
        assert wrong.status_code == 422
        assert "choice: '001000000000999AAA' is not one of" in wrong.json()["detail"]
        page = await web.post(
            f"/matches/{letter}/resolve", data={"choice": "nope", "csrf_token": token}
        )
        assert page.status_code == 422
        assert "is not one of" in page.text
        no_csrf = await web.post(f"/matches/{letter}/resolve", data={"choice": first})
        assert no_csrf.status_code == 403
        assert (await web.get("/api/matches/999999")).status_code == 404
        assert (await web.get("/matches/999999")).status_code == 404
    async with await _dashboard_again(world, tmp_path) as web:
        token = await _login(web, "vic")
        viewer = await web.post(
            f"/api/matches/{letter}/resolve",
            json={"choice": first},
            headers={"X-CSRF-Token": token},
        )
        assert viewer.status_code == 403
        assert 'id="create-new"' not in (await web.get(f"/matches/{letter}")).text
    assert len(await world.queue().dead_letters()) == 1  # still waiting


async def _dashboard_again(world: World, tmp_path: Path) -> httpx.AsyncClient:
    settings = Settings(data_dir=tmp_path / "web", web_session_key="k" * 40)
    app = create_app(world.engine, settings=settings)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_overview_shows_budget_forecast_and_reconcile_drift(
    world: World, tmp_path: Path
) -> None:
    from freshforce.flows.clients_bulk import reconcile  # noqa: PLC0415

    account = await world.sf_create("Account", Name="Umbrella")
    settings = Settings(data_dir=tmp_path / "web", web_session_key="k" * 40)
    digest = hash_password(PASSWORD)
    async with world.engine.begin() as db:
        await add_user(
            db, username="vic", password_hash=digest, role=Role.VIEWER, now=datetime.now(UTC)
        )
    app = create_app(world.engine, settings=settings, runtime=world.runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as web:
        await _login(web, "vic")
        await world.sync(f"salesforce/Account/{account}")
        first = (await web.get("/api/overview")).json()["budget"]
        assert first["known"] is True
        [org] = first["orgs"]
        assert org["max"] > 0
        assert org["used"] > 0
        assert org["forecast"]["per_hour"] is None  # one sample so far
        await world.sync(f"salesforce/Account/{account}")  # more calls, newer figures
        pair = await world.runtime.pair("default")
        await reconcile(world.maps["clients"], pair, world.engine, tenant="default")
        view = (await web.get("/api/overview")).json()
        [org] = view["budget"]["orgs"]
        assert org["forecast"]["per_hour"] is not None
        assert org["forecast"]["projected_24h"] >= 0
        [drift] = view["drift"]
        assert drift["flow"] == "clients"
        assert drift["total"] == 0  # the Account was synced: nothing differs
        page = await web.get("/partials/overview")
        assert 'id="budget"' in page.text
        assert 'id="drift"' in page.text
