"""The service commands refuse a bad mapping file before touching anything (exit 2, file:line)."""

from __future__ import annotations

import os
import re
import signal
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


@pytest.mark.parametrize(("command", "started"), [("run", "running"), ("listen", "listening")])
def test_the_service_starts_and_drains_on_sigterm(
    command: str, started: str, tmp_path: Path
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FRESHFORCE_")},
        "FRESHFORCE_DATA_DIR": str(tmp_path / "data"),
        "FRESHFORCE_CONFIG_DIR": str(tmp_path / "maps"),  # absent: the shipped maps
        "FRESHFORCE_LOG_JSON": "true",
    }
    proc = subprocess.Popen(
        [FRESHFORCE, command, "--port", "0"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if line.startswith(f"freshforce {started}:"):
                break
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    output = "".join(lines) + rest
    assert proc.returncode == 0, output
    assert re.search(
        rf"freshforce {started}: web app and webhooks on http://127\.0\.0\.1:\d+/", output
    )
    assert "0 tenant(s)" in output
    assert '"event": "service_stopped"' in output
    assert output.rstrip().endswith("stopped")
