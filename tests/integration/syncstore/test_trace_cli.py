"""`freshforce trace KEY`: a record's links and its timeline, from rows written by the store."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import Result
from typer.testing import CliRunner

from freshforce.cli import app
from freshforce.store.conflicts import Parked, park_conflict
from freshforce.store.engine import create_engine
from freshforce.store.events import NewEvent, record_events
from freshforce.store.linking import NewLink, create_link
from freshforce.store.migrate import upgrade
from freshforce.store.schema import attempts, jobs
from freshforce.store.scope import Scope
from freshforce.store.writelog import Echo, FieldWrite, record_echoes, record_field_writes

SCOPE = Scope("default", "clients")
ACCOUNT, CONTACT = "001000000000001AAA", "003000000000001AAA"
T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)

pytestmark = pytest.mark.usefixtures("restore_logging")


def _story(url: str) -> int:
    """Client 42 edited in FreshBooks, its e-mail written to Salesforce, the echo dropped."""

    async def main() -> int:
        await upgrade(url)
        engine = create_engine(url)
        try:
            async with engine.begin() as db:
                link = await create_link(
                    db,
                    SCOPE,
                    NewLink("42", ACCOUNT, CONTACT, keys=frozenset({"email:ann@acme.com"})),
                )
                assert link is not None
                await record_events(
                    db,
                    [
                        NewEvent(
                            "webhook", "freshbooks", "client", "42", {"name": "client.update"}
                        ),
                        NewEvent(
                            "webhook", "freshbooks", "invoice", "42", {"name": "invoice.create"}
                        ),
                    ],
                    now=T0,
                )
                at = T0 + timedelta(seconds=1)
                row = {"tenant": "default", "flow": "clients", "key": "freshbooks/client/42"}
                job_id = (
                    await db.execute(
                        sa.insert(jobs)
                        .values(
                            **row,
                            status="done",
                            attempts=1,
                            run_at=at,
                            created_at=at,
                            updated_at=at,
                        )
                        .returning(jobs.c.id)
                    )
                ).scalar_one()
                await db.execute(
                    sa.insert(attempts).values(
                        job_id=job_id, attempt=1, started_at=at, finished_at=at,
                        worker="w1", outcome="done",
                    )
                )  # fmt: skip
                steps = (
                    {"step": "trim", "out": "ann@acme.com"},
                    {"step": "lower", "out": "ann@acme.com"},
                )
                await record_field_writes(
                    db,
                    SCOPE,
                    [FieldWrite("salesforce", "Contact", CONTACT, "Email", "old@acme.com",
                                "ann@acme.com", " Ann@Acme.com", steps, link.id, job_id)],
                )  # fmt: skip
                await record_echoes(
                    db, SCOPE, [Echo("salesforce", "Contact", CONTACT, job_id, "f" * 64)]
                )
                await park_conflict(db, SCOPE, Parked(link.id, "Account.Phone", "1", "2", "3"))
            return int(job_id)
        finally:
            await engine.dispose()

    return asyncio.run(main())


@pytest.fixture
def trace(database_url: str, tmp_path: Path):
    env = {"FRESHFORCE_DATABASE_URL": database_url, "XDG_DATA_HOME": str(tmp_path / "xdg")}
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, ["trace", *args], env=env)

    return invoke


def test_trace_prints_the_links_then_the_timeline_in_time_order(trace, database_url: str) -> None:
    job_id = _story(database_url)
    shown = trace("client/42")
    assert shown.exit_code == 0, shown.output
    out = shown.stdout
    assert ACCOUNT in out
    assert CONTACT in out
    expected = [
        "event (webhook)",
        f"#{job_id} clients freshbooks/client/42: done, 1 attempt",
        f"job #{job_id} attempt 1: done on w1",
        '"old@acme.com" → "ann@acme.com"',
        'from " Ann@Acme.com"',
        'step="trim" out="ann@acme.com"',
        'step="lower"',
        f"our own write (job {job_id}, flow clients)",
        'Account.Phone: FreshBooks "2" vs Salesforce "3" (last synced "1"), open',
    ]
    positions = [out.find(text) for text in expected]
    assert -1 not in positions, [t for t, p in zip(expected, positions, strict=True) if p < 0]
    webhook, job, attempt, write, _, _, _, echo, conflict = positions
    assert out.find("links") < out.find("timeline") < webhook
    assert webhook < job < attempt < write < conflict  # time order
    assert job < echo < conflict  # the echo was dropped after the job began
    assert "invoice.create" not in out  # invoice 42 is another record


def test_trace_by_salesforce_id_or_email_finds_the_same_record_as_json(
    trace, database_url: str
) -> None:
    _story(database_url)
    by_id = json.loads(trace(CONTACT, "--json").stdout)
    by_email = json.loads(trace("Ann@Acme.com", "--json", "--flow", "clients").stdout)
    for found in (by_id, by_email):
        assert [k["freshbooks_id"] for k in found["links"]] == ["42"]
        kinds = [e["kind"] for e in found["timeline"]]
        assert {"event", "job", "attempt", "field_write", "conflict"} <= set(kinds)
        times = [e["at"] for e in found["timeline"]]
        assert times == sorted(times)
    [write] = [e for e in by_id["timeline"] if e["kind"] == "field_write"]
    assert (write["before"], write["after"], write["trace"][0]["step"]) == (
        "old@acme.com",
        "ann@acme.com",
        "trim",
    )


def test_unknown_records_and_bad_keys(trace, database_url: str) -> None:
    _story(database_url)
    unknown = trace("7")
    assert unknown.exit_code == 0
    assert unknown.stdout.strip() == "nothing recorded for 7"
    bad = trace("not a key")
    assert bad.exit_code == 2
    assert "give a FreshBooks id" in bad.output
