"""Configuration versions on both stores: apply, unchanged apply, rollback, audit, diff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.environments import apply_directory, rollback, version_maps
from freshforce.errors import ConfigError
from freshforce.mapping import MappingConfigError
from freshforce.mapping.diff import diff_snapshots
from freshforce.settings import Settings
from freshforce.store.audit import list_audit
from freshforce.store.config_versions import active_version, list_versions

from .conftest import set_value

NOW = datetime(2026, 12, 5, 9, tzinfo=UTC)


async def test_apply_records_immutable_versions_and_rollback_adds_one(
    store_engine: AsyncEngine, settings: Settings, maps_dir: Path
) -> None:
    first, created = await apply_directory(
        store_engine, settings, directory=maps_dir, author="ana", message="first", now=NOW
    )
    assert (first.version, created, first.profile) == (1, True, "qa")
    again, created = await apply_directory(
        store_engine, settings, directory=maps_dir, author="ana", message="same", now=NOW
    )
    assert (again.version, created) == (1, False)
    set_value(maps_dir, "account_type", "Partner")
    later = NOW + timedelta(minutes=5)
    second, _ = await apply_directory(
        store_engine, settings, directory=maps_dir, author="bo", message="partners", now=later
    )
    assert second.version == 2
    assert second.checksum != first.checksum
    assert version_maps(settings, second).values["account_type"] == "Partner"
    back, _ = await rollback(store_engine, settings, 1, author="cy", now=later)
    assert (back.version, back.checksum, back.message) == (3, first.checksum, "rollback to v1")
    async with store_engine.connect() as conn:
        versions = await list_versions(conn, "qa")
        active = await active_version(conn, "qa")
        audit = await list_audit(conn)
        assert await active_version(conn, "prod") is None
    assert [(v.version, v.active, v.author) for v in versions] == [
        (3, True, "cy"),
        (2, False, "bo"),
        (1, False, "ana"),
    ]
    assert versions[1].message == "partners"
    assert versions[2].files == first.files  # stored as applied, never rewritten
    assert active is not None
    assert version_maps(settings, active).values["account_type"] == "Customer"
    assert [(e.action, e.target, e.detail.get("previous")) for e in audit] == [
        ("config.rollback", "config:qa:v3", 2),
        ("config.apply", "config:qa:v2", 1),
        ("config.apply", "config:qa:v1", None),
    ]


async def test_an_invalid_directory_is_refused_and_nothing_is_stored(
    store_engine: AsyncEngine, settings: Settings, maps_dir: Path
) -> None:
    text = (maps_dir / "clients.yaml").read_text().replace("policy: newest_wins", "policy: newst")
    (maps_dir / "clients.yaml").write_text(text)
    with pytest.raises(MappingConfigError) as caught:
        await apply_directory(
            store_engine, settings, directory=maps_dir, author="a", message="m", now=NOW
        )
    assert "clients.yaml:" in caught.value.message
    with pytest.raises(ConfigError, match="profile qa has no configuration version 4"):
        await rollback(store_engine, settings, 4, author="a", now=NOW)
    async with store_engine.connect() as conn:
        assert await list_versions(conn, "qa") == []


def test_diff_names_flow_rule_value_and_profile() -> None:
    old = {"values.yaml": "values:\n  account_type: Customer\n"}
    new = {
        "values.yaml": (
            "values:\n  account_type: Partner\n  extra: 1\nprofiles:\n  prod:\n    extra: 2\n"
        ),
        "clients.yaml": (
            "flow: clients\nlink: {freshbooks: client, salesforce: [Account, Contact]}\n"
            "fields:\n  - {freshbooks: organization, salesforce: Account.Name, policy: review}\n"
        ),
        "hooks.py": "x = 1\n",
    }
    lines = [str(change) for change in diff_snapshots(old, new)]
    assert "clients: changed rule organization -> Account.Name: default: {fname} {lname} -> " in (
        "\n".join(lines)
    )
    assert any(
        line.startswith("clients: changed rule organization -> Account.Name:")
        and "policy: newest_wins -> review" in line
        for line in lines
    )
    assert "clients: removed rule email -> Contact.Email" in lines
    assert "values: changed account_type: Customer -> Partner" in lines
    assert "values: added extra: 1" in lines
    assert "values: added profile prod extra: 2" in lines
    assert "hooks.py: added file" in lines
    assert diff_snapshots(new, new) == []
