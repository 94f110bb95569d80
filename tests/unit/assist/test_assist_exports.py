"""The assist package names its modules; importing it loads none of them."""

from __future__ import annotations

import subprocess
import sys

import freshforce.assist


def test_assist_names_its_modules() -> None:
    assert freshforce.assist.__all__ == [
        "accept", "baseline", "breaker", "guard", "labelled", "review", "scoring", "semantic",
        "suggest",
    ]  # fmt: skip


def test_importing_assist_loads_no_store() -> None:
    code = "import sys, freshforce.assist; print('sqlalchemy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
