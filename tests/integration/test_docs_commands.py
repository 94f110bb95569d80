"""Every `freshforce` command in README.md and docs/ runs, and its output has the promised shape.

A command example is a line of a fenced shell block (``sh``, ``console``, ``bash``, ``shell`` or
no language) that starts with ``freshforce`` or ``uv run freshforce`` (after ``$ `` in console
blocks). Each runs in a fresh data directory; ``freshforce sandbox`` runs on free ports until it
says it is ready. ``SHAPES`` gives the exit code and the phrases a command's output must contain
(and what to type at its prompts); an example not listed must exit 0. ``SKIP`` names the
long-running or interactive ones, with why.
"""

import os
import re
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from freshforce.cli import app

ROOT = Path(__file__).resolve().parents[2]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_FENCES = {"", "sh", "shell", "bash", "console"}
FENCE = re.compile(r"^\s*```\s*(\w*)\s*$")
FRESHFORCE = str(Path(sys.executable).with_name("freshforce"))
PORT_FLAGS = {"--freshbooks-port", "--salesforce-port", "--pubsub-port"}
SANDBOX_READY = "Ready. Ctrl-C stops."


@dataclass(frozen=True)
class Shape:
    exit_code: int = 0
    phrases: tuple[str, ...] = ()
    stdin: str | None = None


@dataclass(frozen=True)
class Example:
    where: str
    command: str
    argv: list[str] = field(hash=False)


_SANDBOX = Shape(
    0, ("FreshBooks sandbox", "Salesforce sandbox", "Salesforce Pub/Sub", SANDBOX_READY)
)
_NO_LETTER = "no dead letter 7 waiting for replay"
_NO_CONFLICT = "no conflict 7 for tenant 'default'"
_NO_PAIR = "no freshbooks connection: connect one with `freshforce connect freshbooks`"
_PASSWORD_TWICE = "a-long-doc-password\n" * 2
_SERVES = (
    "serves until stopped; tests/integration/web/test_web_cli.py's "
    "test_web_serves_over_a_real_socket runs it"
)

SHAPES: dict[str, Shape] = {
    "freshforce --help": Shape(0, ("Usage: freshforce", "sandbox", "worker", "FRESHFORCE_PROFILE")),
    "freshforce db current": Shape(0, ("revision none", "needs `freshforce db upgrade`")),
    "freshforce db upgrade": Shape(0, ("migrated from revision none (empty) to",)),
    "freshforce db upgrade --json": Shape(0, ('"migrated": true', '"from": null')),
    "freshforce config show": Shape(0, ("database_url", "FRESHFORCE_DATABASE_URL")),
    "freshforce jobs list --status dead --limit 20": Shape(0, ("last_error",)),
    "freshforce jobs retry 42": Shape(1, ("due now: none", "not pending", ": 42")),
    "freshforce jobs dead list --all": Shape(0, ("replayed_at",)),
    "freshforce jobs dead show 7 --json": Shape(1, ("no dead letter 7",)),
    'freshforce jobs dead edit 7 --payload {"hints": ["fb/client/42"]}': Shape(1, (_NO_LETTER,)),
    "freshforce jobs dead replay 7": Shape(1, (_NO_LETTER,)),
    "freshforce config init ./freshforce": Shape(0, ("wrote", "clients.yaml", "values.yaml")),
    "freshforce config validate ./freshforce": Shape(0, ("ok clients",)),
    "freshforce users add ana --role operator": Shape(
        0, ("added ana (operator)",), stdin=_PASSWORD_TWICE
    ),
    "freshforce users add vic": Shape(0, ("added vic (viewer)",), stdin=_PASSWORD_TWICE),
    "freshforce conflicts list": Shape(0, ("no open conflicts for tenant 'default'",)),
    "freshforce conflicts show 7": Shape(1, (_NO_CONFLICT,)),
    "freshforce conflicts resolve 7 --take salesforce": Shape(1, (_NO_CONFLICT,)),
    "freshforce conflicts resolve 7 --value ann@example.com --by ana": Shape(1, (_NO_CONFLICT,)),
    # A fresh data directory has no connections: both say what to do first.
    "freshforce sync --initial --dry-run": Shape(2, (_NO_PAIR,)),
    "freshforce sync --initial": Shape(2, (_NO_PAIR,)),
    "freshforce map suggest clients": Shape(2, (_NO_PAIR,)),
    "freshforce anomalies list": Shape(0, ("no writes waiting for review",)),
    "freshforce anomalies accept 7": Shape(1, ("no held write 7 waiting",)),
    "freshforce anomalies reject 7": Shape(1, ("no held write 7 waiting",)),
    "freshforce flows list": Shape(0, ("no flow is paused",)),
    "freshforce flows resume clients": Shape(1, ("clients is not paused for tenant 'default'",)),
    "freshforce flows pause invoices --tenant acme": Shape(0, ("invoices paused",)),
    "freshforce map suggest clients --apply": Shape(2, ("freshforce config init",)),
    "freshforce map reject clients client.fax Contact.Phone": Shape(0, ("rejected client.fax",)),
    "freshforce map accept clients client.company_industry Account.Industry": Shape(
        2, ("freshforce config init",)
    ),
    "freshforce trace client/42": Shape(0, ("nothing recorded for client/42",)),
    "freshforce trace ann@example.com --json": Shape(0, ('"links": []', '"timeline": []')),
    "freshforce sandbox --records 20 --auto-approve": _SANDBOX,
    "freshforce sandbox --salesforce-port 8102 --pubsub-port 8103 --tls": Shape(
        0, (*_SANDBOX.phrases, "TLS CA file", "(gRPC, TLS, same CA)")
    ),
}

_SERVICE = (
    "serves until SIGTERM; tests/integration/runservice/ starts the service in process and "
    "test_service_cli.py runs the command"
)

SKIP: dict[str, str] = {
    "freshforce run --public-url https://sync.example.com": _SERVICE,
    "freshforce listen --public-url https://sync.example.com": _SERVICE,
    "freshforce worker --concurrency 8 --batch-size 50": (
        "runs until SIGTERM; tests/integration/queue/test_worker_process.py runs worker processes"
    ),
    "freshforce web --port 8000": _SERVES,
    "freshforce web --host 0.0.0.0 --port 8000": _SERVES,
    "freshforce connect salesforce --no-browser": (
        "waits for someone to open the printed URL; test_connect_command.py's "
        "test_connect_salesforce_completes_headless_with_auto_approve does exactly that"
    ),
}


def _command_lines(text: str) -> list[tuple[int, str]]:
    found, fence, pending, start = [], None, "", 0
    for number, line in enumerate(text.splitlines(), 1):
        marker = FENCE.match(line)
        if marker:
            fence = None if fence is not None else marker.group(1)
            continue
        if fence not in SHELL_FENCES:
            continue
        body = line.strip()
        if fence == "console":
            if not body.startswith("$ ") and not pending:
                continue
            body = body.removeprefix("$ ")
        start = start if pending else number
        pending = f"{pending} {body.removesuffix(chr(92)).strip()}".strip()
        if body.endswith("\\"):
            continue
        if re.match(r"^(uv run )?freshforce(\s|$)", pending):
            found.append((start, pending))
        pending = ""
    return found


def examples() -> list[Example]:
    found = []
    for path in DOC_FILES:
        for number, line in _command_lines(path.read_text(encoding="utf-8")):
            argv = shlex.split(line, comments=True)
            if argv[:2] == ["uv", "run"]:
                argv = argv[2:]
            where = f"{path.relative_to(ROOT)}:{number}"
            found.append(Example(where, " ".join(argv), argv))
    return found


EXAMPLES = examples()


def test_the_docs_have_command_examples_and_the_tables_match_them() -> None:
    commands = {e.command for e in EXAMPLES}
    assert len(EXAMPLES) >= 10
    stale = sorted((set(SHAPES) | set(SKIP)) - commands)
    assert stale == [], "SHAPES/SKIP name commands the docs no longer show"


def test_readme_says_how_to_run_the_command_before_using_it() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = "sandbox|db|config|worker|jobs|connect|demo|version|--help"
    first_use = re.search(rf"(?m)(^|`)freshforce ({commands})", readme)
    assert first_use is not None
    assert "uv run freshforce" in readme[: first_use.start()]
    assert "source .venv/bin/activate" in readme


@pytest.fixture
def doc_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in [n for n in os.environ if n.startswith("FRESHFORCE_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    return {"PATH": os.environ["PATH"], "XDG_DATA_HOME": str(tmp_path / "xdg")}


def _run_sandbox(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    kept: list[str] = []
    args = iter(argv[1:])
    for arg in args:
        if arg in PORT_FLAGS:
            next(args)  # documented ports are fixed; the test takes free ones
            continue
        kept.append(arg)
    command = [FRESHFORCE, *kept, *(x for flag in sorted(PORT_FLAGS) for x in (flag, "0"))]
    proc = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.strip() == SANDBOX_READY:
                break
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, "".join(lines) + rest


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("example", EXAMPLES, ids=[e.where for e in EXAMPLES])
def test_documented_command_runs_as_shown(example: Example, doc_env: dict[str, str]) -> None:
    if example.command in SKIP:
        pytest.skip(SKIP[example.command])
    shape = SHAPES.get(example.command, Shape())
    if example.argv[1:2] == ["sandbox"]:
        code, output = _run_sandbox(example.argv, doc_env)
    else:
        result = CliRunner().invoke(app, example.argv[1:], env=doc_env, input=shape.stdin)
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            f"{example.where}: {example.command} raised {result.exception!r}"
        )
        code, output = result.exit_code, result.output
    assert code == shape.exit_code, f"{example.where}: {example.command}\n{output}"
    assert "Traceback" not in output
    missing = [phrase for phrase in shape.phrases if phrase not in output]
    assert missing == [], f"{example.where}: {example.command}\n{output}"
