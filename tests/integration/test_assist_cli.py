"""`freshforce map accept|reject`: the rule lands in the flow file and the decision in the store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from freshforce.cli import app
from freshforce.mapping import load_maps, write_defaults
from freshforce.store.engine import create_engine
from freshforce.store.mapping_decisions import Decision, MappingDecision, list_decisions
from freshforce.store.migrate import upgrade

pytestmark = pytest.mark.usefixtures("restore_logging")


def _decisions(url: str) -> list[MappingDecision]:
    async def main() -> list[MappingDecision]:
        engine = create_engine(url)
        try:
            async with engine.connect() as db:
                return await list_decisions(db, "default")
        finally:
            await engine.dispose()

    return asyncio.run(main())


def test_accept_writes_the_rule_and_reject_is_kept(database_url: str, tmp_path: Path) -> None:
    asyncio.run(upgrade(database_url))
    config = tmp_path / "freshforce"
    write_defaults(config)
    env = {
        "FRESHFORCE_DATABASE_URL": database_url,
        "FRESHFORCE_CONFIG_DIR": str(config),
        "XDG_DATA_HOME": str(tmp_path / "xdg"),
    }

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(app, ["map", *args], env=env)

    done = invoke("accept", "clients", "client.home_phone", "Contact.Birthday")
    assert done.exit_code == 2, done.output  # not a field the catalogue knows: file put back
    assert "would not validate" in done.output
    assert "home_phone" not in (config / "clients.yaml").read_text(encoding="utf-8")

    done = invoke("accept", "clients", "client.company_industry", "Account.Industry")
    assert done.exit_code == 0, done.output
    rules = load_maps(config, profile="dev")["clients"].rules
    assert any(r.freshbooks == ("company_industry",) for r in rules)

    done = invoke("reject", "clients", "client.fax", "Contact.Phone")
    assert done.exit_code == 0, done.output
    found = {(d.source, d.target): d.decision for d in _decisions(database_url)}
    assert found == {
        ("client.company_industry", "Account.Industry"): Decision.ACCEPTED,
        ("client.fax", "Contact.Phone"): Decision.REJECTED,
    }
    assert invoke("accept", "clients", "home_phone", "HomePhone").exit_code == 2
