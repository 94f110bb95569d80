"""`freshforce anomalies list|accept|reject` on writes held in the store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from freshforce.cli import app
from freshforce.engine import JobQueue, JobStatus
from freshforce.store.anomalies import record_anomaly
from freshforce.store.engine import create_engine
from freshforce.store.migrate import upgrade

pytestmark = pytest.mark.usefixtures("restore_logging")
KEY = "salesforce/Opportunity/006000000000001AAA"
WHY = "amount 105,000.00 USD looks like 1,050.00 with the decimal point moved (x100)"


def _hold(url: str, count: int) -> list[int]:
    async def main() -> list[int]:
        await upgrade(url)
        engine = create_engine(url)
        try:
            async with engine.begin() as db:
                return [
                    await record_anomaly(
                        db, ("default", "invoices", "7", f"{KEY}{n}"), action="hold",
                        status="open", reasons=[WHY], write={"amounts": {"amount": "105000"}},
                    )
                    for n in range(count)
                ]  # fmt: skip
        finally:
            await engine.dispose()

    return asyncio.run(main())


def _pending(url: str) -> list[tuple[str, str]]:
    async def main() -> list[tuple[str, str]]:
        engine = create_engine(url)
        try:
            found = await JobQueue(engine).jobs(status=JobStatus.PENDING)
            return [(j.flow, j.key) for j in found]
        finally:
            await engine.dispose()

    return asyncio.run(main())


def test_list_accept_reject(database_url: str, tmp_path: Path) -> None:
    first, second = _hold(database_url, 2)
    env = {"FRESHFORCE_DATABASE_URL": database_url, "XDG_DATA_HOME": str(tmp_path / "xdg")}

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(app, ["anomalies", *args], env=env)

    listed = invoke("list")
    assert listed.exit_code == 0, listed.output
    assert f"{first} open invoices {KEY}0: {WHY}" in listed.output
    done = invoke("accept", str(first))
    assert done.exit_code == 0, done.output
    assert "accepted: the write runs again" in done.output
    assert _pending(database_url) == [("invoices", f"{KEY}0")]
    assert invoke("reject", str(second)).exit_code == 0
    assert _pending(database_url) == [("invoices", f"{KEY}0")]  # a rejection enqueues nothing
    again = invoke("accept", str(first))
    assert again.exit_code == 1
    assert f"no held write {first} waiting" in again.output
    assert "no writes waiting for review" in invoke("list").output
    assert '"status": "rejected"' in invoke("list", "--all", "--json").output
