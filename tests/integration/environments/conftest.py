"""Fixtures of the environment tests: a mapping directory and a settings object on the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from freshforce.mapping import write_defaults
from freshforce.settings import Settings, load_settings


@pytest.fixture
def maps_dir(tmp_path: Path) -> Path:
    """A mapping directory holding the shipped files, to edit."""
    directory = tmp_path / "maps"
    write_defaults(directory)
    return directory


@pytest.fixture
def settings(tmp_path: Path, database_url: str, maps_dir: Path) -> Settings:
    """Settings of profile qa on the test's database, data under ``tmp_path``."""
    return load_settings(
        "qa",
        None,
        data_dir=tmp_path / "data",
        database_url=database_url,
        config_dir=maps_dir,
        config_reload_seconds=0.05,
        auto_migrate=True,
    )


def set_value(directory: Path, name: str, value: str) -> None:
    """Change a named value in the directory's values.yaml."""
    path = directory / "values.yaml"
    lines = [
        f"  {name}: {value}" if line.startswith(f"  {name}:") else line
        for line in path.read_text().splitlines()
    ]
    path.write_text("\n".join(lines) + "\n")
