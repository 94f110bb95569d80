"""``freshforce sandbox`` as a subprocess: it prints working URLs and credentials, and persists."""

from __future__ import annotations

import json
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
from typer.testing import CliRunner

from freshforce.cli import app

FRESHFORCE = str(Path(sys.executable).parent / "freshforce")


def read_announcement(proc: subprocess.Popen[str]) -> dict[str, str]:
    """Parse the lines printed before ``Ready.`` into {first word: rest}; the first one wins."""
    assert proc.stdout is not None
    printed: dict[str, str] = {}
    for line in proc.stdout:
        if line.startswith("Ready."):
            return printed
        key, _, value = line.strip().partition(" ")
        printed.setdefault(key.split("=")[0], value.strip() or key.split("=", 1)[-1])
    raise AssertionError(f"sandbox exited early: {printed}")


def test_command_serves_tls_prints_credentials_and_saves_state(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    args = ["sandbox", "--freshbooks-port", "0", "--records", "2", "--tls"]
    args += ["--salesforce-port", "0", "--pubsub-port", "0"]
    with subprocess.Popen(
        [FRESHFORCE, *args, "--state-file", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            printed = read_announcement(proc)
            url = printed["FreshBooks"].removeprefix("sandbox").strip()
            assert url.startswith("https://127.0.0.1:")
            assert printed["client_id"] == "freshforce-sandbox"
            assert printed["Salesforce"].startswith("sandbox   https://127.0.0.1:")
            trust = ssl.create_default_context(
                cafile=printed["TLS"].removeprefix("CA file").strip()
            )
            headers = {"Authorization": f"Bearer {printed['access_token']}"}
            with httpx.Client(verify=trust, headers=headers) as http:
                me = http.get(f"{url}/auth/api/v1/users/me").json()["response"]
                account = me["business_memberships"][0]["business"]["account_id"]
                assert account == printed["account_id"]
                clients = f"{url}/accounting/account/{account}/users/clients"
                assert http.get(clients).json()["response"]["result"]["total"] == 2
                made = http.post(clients, json={"client": {"organization": "Kept"}})
                assert made.status_code == 200
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0
    saved = json.loads((tmp_path / "state.freshbooks.json").read_text())
    organizations = [c["organization"] for c in saved["accounting"]["records"]["clients"]]
    assert len(organizations) == 3
    assert "Kept" in organizations


def test_command_rejects_bad_flags() -> None:
    result = CliRunner().invoke(app, ["sandbox", "--freshbooks-port", "70000"])
    assert result.exit_code == 2
    assert "65535" in result.output
