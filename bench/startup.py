"""Benchmark how long `freshforce` takes to start: --help, version, config show, jobs list.

    uv run python bench/startup.py                 # 5 runs of each, both bytecode modes
    uv run python bench/startup.py --runs 3 --src /tmp/old/src   # another tree's sources

Each row is a fresh process of the installed console script (or ``python -c "import …"``), timed
from spawn to exit, with its own data directory and SQLite store. "cached" runs with a warm
bytecode cache, as an installed package has; "cold" compiles freshforce and its dependencies from
source every time (the standard library keeps its bytecode), as a checkout does on its first run
or wherever ``PYTHONDONTWRITEBYTECODE`` is set. The table shows
the median and the fastest run in seconds. ``--src`` puts another checkout's ``src`` first on
``sys.path``, to compare with an earlier commit.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FRESHFORCE = str(Path(sys.executable).with_name("freshforce"))
COMMANDS: list[tuple[str, list[str]]] = [
    ("import freshforce.cli", [sys.executable, "-c", "import freshforce.cli"]),
    ("freshforce --help", [FRESHFORCE, "--help"]),
    ("freshforce version", [FRESHFORCE, "version"]),
    ("freshforce config show", [FRESHFORCE, "config", "show"]),
    ("freshforce jobs list", [FRESHFORCE, "jobs", "list"]),
]


def _environment(scratch: Path, *, cached: bool, src: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRESHFORCE_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["XDG_DATA_HOME"] = str(scratch / "xdg")
    env["FRESHFORCE_DATABASE_URL"] = f"sqlite+aiosqlite:///{scratch / 'bench.db'}"
    if cached:
        env["PYTHONPYCACHEPREFIX"] = str(scratch / "pycache")
    else:  # the standard library keeps its installed bytecode; the rest compiles every time
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    if src:
        env["PYTHONPATH"] = src
    return env


def _time(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, check=False)  # noqa: S603 - our own CLI
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        msg = f"{' '.join(argv)} failed: {done.stderr.decode(errors='replace')}"
        raise RuntimeError(msg)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--src", help="a checkout's src directory to measure instead")
    args = parser.parse_args()
    print(f"| Command | Bytecode | Median s | Fastest s | Runs |  ({args.src or 'this tree'})")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="freshforce-bench-startup-") as scratch:
        root = Path(scratch)
        for cached in (True, False):
            env = _environment(root, cached=cached, src=args.src)
            for _, argv in COMMANDS:  # warm the bytecode cache and migrate the store
                _time(argv, env)
            for label, argv in COMMANDS:
                times = [_time(argv, env) for _ in range(args.runs)]
                mode = "cached" if cached else "cold"
                print(
                    f"| `{label}` | {mode} | {statistics.median(times):.2f} | "
                    f"{min(times):.2f} | {args.runs} |"
                )


if __name__ == "__main__":
    main()
