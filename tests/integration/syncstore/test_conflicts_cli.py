"""`freshforce conflicts list|show|resolve` on conflicts parked through the store."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from freshforce.cli import app
from freshforce.engine import JobQueue, JobStatus
from freshforce.store.conflicts import ConflictKind, Parked, park_conflict
from freshforce.store.engine import create_engine
from freshforce.store.linking import NewLink, create_link
from freshforce.store.migrate import upgrade
from freshforce.store.scope import Scope

WHEN = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
ACCOUNT, CONTACT = "001000000000001AAA", "003000000000001AAA"

pytestmark = pytest.mark.usefixtures("restore_logging")


def _seed(url: str) -> tuple[int, int]:
    """Link 42 ↔ ACCOUNT with two parked fields: an e-mail (text) and a head count (number)."""

    async def main() -> tuple[int, int]:
        await upgrade(url)
        engine = create_engine(url)
        try:
            async with engine.begin() as db:
                link = await create_link(
                    db, Scope("default", "clients"), NewLink("42", ACCOUNT, CONTACT)
                )
                assert link is not None
                email = await park_conflict(
                    db,
                    Scope("default", "clients"),
                    Parked(link.id, "Contact.Email", "o@x.com", "fb@x.com", "sf@x.com",
                           "ann", WHEN, "005U", WHEN),
                )  # fmt: skip
                staff = await park_conflict(
                    db,
                    Scope("default", "clients"),
                    Parked(link.id, "Account.NumberOfEmployees", 10, 11, 12),
                )
            return email.id, staff.id
        finally:
            await engine.dispose()

    return asyncio.run(main())


def _link_jobs(url: str) -> list[tuple[str, str]]:
    async def main() -> list[tuple[str, str]]:
        engine = create_engine(url)
        try:
            jobs = await JobQueue(engine, clock=lambda: WHEN).jobs(status=JobStatus.PENDING)
            return [(j.flow, j.key) for j in jobs]
        finally:
            await engine.dispose()

    return asyncio.run(main())


@pytest.fixture
def cli(database_url: str, tmp_path: Path):
    env = {"FRESHFORCE_DATABASE_URL": database_url, "XDG_DATA_HOME": str(tmp_path / "xdg")}
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, ["conflicts", *args], env=env)

    return invoke


def test_list_and_show_name_the_field_both_values_and_who_changed_them(
    cli, database_url: str
) -> None:
    email, staff = _seed(database_url)
    listed = cli("list")
    assert listed.exit_code == 0, listed.output
    for text in ("Contact.Email", '"fb@x.com"', '"sf@x.com"', "Account.NumberOfEmployees", "open"):
        assert text in listed.stdout
    as_json = json.loads(cli("list", "--json").stdout)
    assert [(c["id"], c["field"]) for c in as_json] == [
        (email, "Contact.Email"),
        (staff, "Account.NumberOfEmployees"),
    ]
    shown = cli("show", str(email))
    assert shown.exit_code == 0, shown.output
    assert f"conflict {email} (clients, link " in shown.stdout
    assert f"FreshBooks 42, Salesforce {ACCOUNT} / {CONTACT}" in shown.stdout
    assert 'last synced:  "o@x.com"' in shown.stdout
    assert '"fb@x.com" (changed by ann at 2026-12-04 12:00:00+00:00)' in shown.stdout
    assert '"sf@x.com" (changed by 005U' in shown.stdout
    assert json.loads(cli("show", str(staff), "--json").stdout)["salesforce"]["value"] == 12
    assert (
        cli("list", "--tenant", "globex").stdout.strip() == "no open conflicts for tenant 'globex'"
    )


def test_resolve_keeps_a_side_or_a_typed_value_and_asks_for_a_resync(
    cli, database_url: str
) -> None:
    email, staff = _seed(database_url)
    taken = cli("resolve", str(email), "--take", "salesforce", "--by", "ops")
    assert taken.exit_code == 0, taken.output
    assert "resolved conflict" in taken.stdout
    assert 'salesforce → "sf@x.com"' in taken.stdout
    valued = cli("resolve", str(staff), "--value", "11", "--json")
    assert valued.exit_code == 0, valued.output
    settled = json.loads(valued.stdout)
    assert (settled["resolution"], settled["resolved_value"]) == ("value", 11)
    assert settled["resolved_by"]
    link_id = settled["link_id"]
    assert _link_jobs(database_url) == [("clients", f"link/{link_id}")]  # one coalesced re-sync
    assert cli("list").stdout.strip() == "no open conflicts for tenant 'default'"
    every = json.loads(cli("list", "--all", "--json").stdout)
    assert (every[0]["resolution"], every[0]["resolved_by"]) == ("salesforce", "ops")


def test_resolve_explains_what_is_wrong(cli, database_url: str) -> None:
    email, staff = _seed(database_url)
    both = cli("resolve", str(email), "--take", "freshbooks", "--value", "x")
    neither = cli("resolve", str(email))
    bad_number = cli("resolve", str(staff), "--value", "eleven")
    unknown = cli("resolve", "999", "--take", "freshbooks")
    other_tenant = cli("resolve", str(email), "--take", "freshbooks", "--tenant", "globex")
    assert (both.exit_code, neither.exit_code, bad_number.exit_code) == (2, 2, 2)
    assert "give exactly one of --take" in both.output
    assert "--value 'eleven': field Account.NumberOfEmployees holds 11, 12" in bad_number.output
    assert (unknown.exit_code, other_tenant.exit_code) == (1, 1)
    assert "no conflict 999 for tenant 'default'" in unknown.output
    assert f"no conflict {email} for tenant 'globex'" in other_tenant.output
    assert cli("resolve", str(email), "--take", "freshbooks").exit_code == 0
    again = cli("resolve", str(email), "--take", "salesforce")
    assert again.exit_code == 1
    assert f"conflict {email} was settled already" in again.output
    missing = cli("show", "999")
    assert missing.exit_code == 1
    assert "no conflict 999" in missing.output
    assert _link_jobs(database_url) != []  # only the one that settled asked for a re-sync


def _seed_refused(url: str) -> int:
    """Link 42 ↔ ACCOUNT with an e-mail Salesforce refused."""

    async def main() -> int:
        await upgrade(url)
        engine = create_engine(url)
        try:
            async with engine.begin() as db:
                scope = Scope("default", "clients")
                link = await create_link(db, scope, NewLink("42", ACCOUNT, CONTACT))
                assert link is not None
                refused = Parked(
                    link.id, "Contact.Email", None, "peter at initech", None,
                    kind=ConflictKind.REFUSED, refused_by="salesforce",
                    error_code="INVALID_EMAIL_ADDRESS",
                    error_message="Email: invalid email address: peter at initech",
                )  # fmt: skip
                return (await park_conflict(db, scope, refused)).id
        finally:
            await engine.dispose()

    return asyncio.run(main())


def test_a_refused_field_shows_who_refused_it_with_the_code_and_message(
    cli, database_url: str
) -> None:
    refused = _seed_refused(database_url)
    listed = cli("list")
    assert listed.exit_code == 0, listed.output
    assert "INVALID_EMAIL_ADDRESS" in listed.stdout
    [as_json] = json.loads(cli("list", "--json").stdout)
    assert (as_json["kind"], as_json["refused_by"], as_json["error_code"]) == (
        "refused", "salesforce", "INVALID_EMAIL_ADDRESS",
    )  # fmt: skip
    shown = cli("show", str(refused))
    assert shown.exit_code == 0, shown.output
    assert (
        "refused by:   Salesforce, INVALID_EMAIL_ADDRESS: Email: invalid email address: "
        "peter at initech"
    ) in shown.stdout
    assert "correct the value in FreshBooks" in shown.stdout
