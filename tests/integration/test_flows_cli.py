"""`freshforce flows pause|list|resume`: a stored pause, its alert, its audit rows."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from freshforce.cli import app
from freshforce.store.alerts import list_alerts
from freshforce.store.audit import list_audit
from freshforce.store.engine import create_engine
from freshforce.store.migrate import upgrade
from freshforce.store.pauses import list_pauses

pytestmark = pytest.mark.usefixtures("restore_logging")


def _stored(url: str) -> tuple[list[str], list[tuple[str, bool]], list[str]]:
    async def main() -> tuple[list[str], list[tuple[str, bool]], list[str]]:
        engine = create_engine(url)
        try:
            async with engine.connect() as db:
                paused = [f"{p.tenant}/{p.flow}" for p in await list_pauses(db)]
                alerts = [(a.kind, a.resolved_at is not None) for a in await list_alerts(db)]
                audit = [f"{e.action} {e.target}" for e in await list_audit(db)]
            return paused, alerts, audit
        finally:
            await engine.dispose()

    return asyncio.run(main())


def test_pause_list_resume(database_url: str, tmp_path: Path) -> None:
    asyncio.run(upgrade(database_url))
    env = {"FRESHFORCE_DATABASE_URL": database_url, "XDG_DATA_HOME": str(tmp_path / "xdg")}

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(app, ["flows", *args], env=env)

    assert "no flow is paused" in invoke("list").output
    paused = invoke("pause", "invoices", "--tenant", "acme")
    assert paused.exit_code == 0, paused.output
    assert "invoices paused: its jobs wait (tenant 'acme')" in paused.output
    again = invoke("pause", "invoices", "--tenant", "acme")
    assert again.exit_code == 1
    assert "invoices is already paused for tenant 'acme'" in again.output
    assert "acme/invoices paused by " in invoke("list").output
    assert _stored(database_url)[:2] == (["acme/invoices"], [("invoices_update_breaker", False)])

    assert invoke("resume", "invoices").exit_code == 1  # the default tenant's is not paused
    resumed = invoke("resume", "invoices", "--tenant", "acme")
    assert resumed.exit_code == 0, resumed.output
    assert "invoices resumed: its waiting jobs run now" in resumed.output
    paused_now, alerts, audit = _stored(database_url)
    assert paused_now == []
    assert sorted(alerts) == [
        ("invoices_update_breaker", True),
        ("invoices_update_breaker_resolved", True),
    ]
    assert sorted(audit) == ["flow.pause flow:acme/invoices", "flow.resume flow:acme/invoices"]
