"""``freshforce users`` and ``freshforce web`` from the command line."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from freshforce.cli import app
from freshforce.store.engine import create_engine
from freshforce.store.users import Role, get_user
from freshforce.web.passwords import verify_password

pytestmark = pytest.mark.usefixtures("restore_logging")
NEW_PASSWORD = "a long new password"


@pytest.fixture
def invoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str):
    for name in [n for n in os.environ if n.startswith("FRESHFORCE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    runner = CliRunner()

    def run(*args: str, stdin: str | None = None):
        env = {"FRESHFORCE_DATABASE_URL": database_url}
        return runner.invoke(app, list(args), env=env, input=stdin, catch_exceptions=False)

    return run


def _user(database_url: str, name: str):
    async def read():
        engine = create_engine(database_url)
        try:
            async with engine.connect() as conn:
                return await get_user(conn, name)
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_users_add_passwd_list_remove(invoke, database_url):
    typed = f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n"
    added = invoke("users", "add", "ana", "--role", "operator", stdin=typed)
    assert added.exit_code == 0, added.output
    assert "added ana (operator)" in added.stdout
    user = _user(database_url, "ana")
    assert user.role is Role.OPERATOR
    assert user.password_hash.startswith("$argon2")
    assert NEW_PASSWORD not in added.output
    again = invoke("users", "add", "ana", stdin=typed)
    assert again.exit_code == 1
    assert "exists already" in again.output
    other = "another long password"
    changed = invoke("users", "passwd", "ana", "--role", "viewer", stdin=f"{other}\n{other}\n")
    assert changed.exit_code == 0, changed.output
    user = _user(database_url, "ana")
    assert user.role is Role.VIEWER
    assert asyncio.run(verify_password(other, user.password_hash))
    made = invoke("users", "token", "ana")
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip()
    assert secret.startswith("ffu_")
    assert _user(database_url, "ana").has_api_token
    listed = invoke("users", "list")
    assert "ana\tviewer\tapi-token" in listed.stdout
    assert secret not in listed.stdout
    assert invoke("users", "token", "ana", "--revoke").exit_code == 0
    assert not _user(database_url, "ana").has_api_token
    assert invoke("users", "token", "nobody").exit_code == 1
    assert "$argon2" not in listed.stdout
    assert invoke("users", "remove", "ana").exit_code == 0
    assert _user(database_url, "ana") is None
    missing = invoke("users", "remove", "ana")
    assert missing.exit_code == 1
    assert "no user called 'ana'" in missing.output


def test_users_refuses_short_passwords_and_bad_roles(invoke):
    short = invoke("users", "add", "bo", stdin="short\nshort\n")
    assert short.exit_code == 2
    assert "at least 12 characters" in short.output
    role = invoke("users", "add", "bo", "--role", "admin", stdin="x\n")
    assert role.exit_code == 2
    assert "admin" in role.output
    assert (
        invoke("users", "passwd", "nobody", stdin=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n").exit_code
        == 1
    )


def test_web_help_names_env_vars(invoke):
    shown = invoke("web", "--help").stdout
    for text in ("FRESHFORCE_WEB_HOST", "FRESHFORCE_WEB_PORT", "--host", "--port"):
        assert text in shown


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_web_serves_over_a_real_socket(database_url, tmp_path):
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FRESHFORCE_")},
        "XDG_DATA_HOME": str(tmp_path / "xdg"),
        "FRESHFORCE_DATABASE_URL": database_url,
        "FRESHFORCE_WEB_PORT": "1",  # the flag wins over the setting
    }
    command = [sys.executable, "-m", "freshforce.cli", "web", "--port", str(port)]
    errors = tmp_path / "stderr.txt"
    with errors.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=sink)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, errors.read_text()
                assert time.monotonic() < deadline, "the dashboard did not start in 60 s"
                time.sleep(0.2)
        assert answer.status_code == 200
        assert answer.json()["status"] == "ready"
        login = httpx.get(f"http://127.0.0.1:{port}/", follow_redirects=False, timeout=5)
        assert login.status_code == 303
    finally:
        process.terminate()
        process.wait(timeout=30)
