"""What `import freshforce.cli` and `--help` load: no database, web, HTTP or gRPC stack."""

import json
import subprocess
import sys

import pytest

HEAVY = ("sqlalchemy", "alembic", "fastapi", "starlette", "uvicorn", "grpc", "httpx", "faker")

_PROBE = """
import json, sys
{code}
print(json.dumps(sorted({{name.split(".")[0] for name in sys.modules}})))
"""


def _loaded(code: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(code=code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_importing_the_cli_loads_no_heavy_package() -> None:
    loaded = _loaded("import freshforce.cli")
    assert "typer" in loaded  # the probe sees what the import pulled in
    # pydantic too: typer itself loads it, but only once a command's arguments are parsed.
    assert sorted(loaded & {*HEAVY, "pydantic"}) == []


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["worker", "--help"],
        ["jobs", "list", "--help"],
        ["sandbox", "--help"],
        ["run", "--help"],
        ["listen", "--help"],
        ["conflicts", "resolve", "--help"],
        ["trace", "--help"],
    ],
)
def test_help_loads_no_heavy_package(args: list[str]) -> None:
    code = (
        "from freshforce.cli import app\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        f"    app({args!r})\n"
    )
    assert sorted(_loaded(code) & set(HEAVY)) == []
