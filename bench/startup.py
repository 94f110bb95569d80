"""Benchmark how long `freshforce` takes to start: --help, version, config show, jobs list.

    uv run python bench/startup.py                 # 5 runs of each, both bytecode modes
    uv run python bench/startup.py --runs 3 --src /tmp/old/src   # another tree's sources

Each row is a fresh process of the installed console script (or ``python -c "import …"``), timed
from spawn to exit, with its own data directory and SQLite store. "cached" runs with a warm
bytecode cache, as an installed package has; "none" compiles every module from source on every
run (the standard library too): the worst case, near what a checkout pays on its first run or
wherever ``PYTHONDONTWRITEBYTECODE`` is set and nothing was compiled before. The table shows
the median and the fastest wall time, and the median CPU time (user + system), which a busy
machine disturbs far less than the wall time. ``--src`` puts another checkout's ``src`` first on
``sys.path``, to compare with an earlier commit.
"""

from __future__ import annotations

import argparse
import os
import resource
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
    else:  # an empty cache that is never written: every module compiles from source every time
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONPYCACHEPREFIX"] = str(scratch / "empty-pycache")
    if src:
        env["PYTHONPATH"] = src
    return env


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _time(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Return the wall time and the CPU time (user + system) of one run."""
    started, cpu = time.perf_counter(), _cpu()
    done = subprocess.run(argv, env=env, capture_output=True, check=False)  # noqa: S603 - our own CLI
    elapsed, cpu_used = time.perf_counter() - started, _cpu() - cpu
    if done.returncode != 0:
        msg = f"{' '.join(argv)} failed: {done.stderr.decode(errors='replace')}"
        raise RuntimeError(msg)
    return elapsed, cpu_used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--src", help="a checkout's src directory to measure instead")
    args = parser.parse_args()
    print(f"Sources: {args.src or 'this tree'}; load average at start {os.getloadavg()[0]:.1f}")
    print("| Command | Bytecode | Wall s, median | Wall s, fastest | CPU s, median | Runs |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="freshforce-bench-startup-") as scratch:
        root = Path(scratch)
        for cached in (True, False):
            env = _environment(root, cached=cached, src=args.src)
            for _, argv in COMMANDS:  # warm the bytecode cache and migrate the store
                _time(argv, env)
            for label, argv in COMMANDS:
                walls, cpus = zip(*(_time(argv, env) for _ in range(args.runs)), strict=True)
                mode = "cached" if cached else "none"
                print(
                    f"| `{label}` | {mode} | {statistics.median(walls):.2f} | "
                    f"{min(walls):.2f} | {statistics.median(cpus):.2f} | {args.runs} |"
                )


if __name__ == "__main__":
    main()
