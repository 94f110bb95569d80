"""The service commands refuse a bad mapping file before touching anything (exit 2, file:line)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

FRESHFORCE = str(Path(sys.executable).with_name("freshforce"))
BAD_CLIENTS = """\
flow: clients
link: {freshbooks: client, salesforce: [Account, Contact]}
fields:
  - {freshbooks: email, salesforce: Contact.Emial}
"""


@pytest.mark.parametrize("command", ["run", "listen", "worker"])
def test_a_bad_mapping_file_refuses_to_start_with_file_and_line(
    command: str, tmp_path: Path
) -> None:
    maps = tmp_path / "maps"
    maps.mkdir()
    (maps / "clients.yaml").write_text(BAD_CLIENTS, encoding="utf-8")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FRESHFORCE_")},
        "FRESHFORCE_DATA_DIR": str(tmp_path / "data"),
        "FRESHFORCE_CONFIG_DIR": str(maps),
        "FRESHFORCE_WEB_PORT": "0",
    }
    done = subprocess.run(
        [FRESHFORCE, command], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2, done.stderr
    assert "clients.yaml:4:37: fields[0].salesforce:" in done.stderr
    assert "unknown salesforce field Contact.Emial (did you mean 'Email'?)" in done.stderr
    assert not (tmp_path / "data" / "freshforce.db").exists()  # refused before the store opened
