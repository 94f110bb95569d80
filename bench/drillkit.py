"""What the drills (bench/chaos.py, bench/echo.py) share: quiet logs, the report and exit code."""

import json
import logging
from typing import Any

import structlog


def quiet() -> None:
    """Silence freshforce's and the sandboxes' logs: the drill prints its own report."""
    logging.disable(logging.CRITICAL)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))


def finish(report: dict[str, Any], *, as_json: bool, failures: tuple[str, ...]) -> None:
    """Print ``report`` (one JSON line, or aligned lines); exit 1 if a ``failures`` key is set."""
    if as_json:
        print(json.dumps(report))
    else:
        width = max(map(len, report)) + 2
        for key, value in report.items():
            print(f"{key:<{width}} {value}")
    raise SystemExit(1 if any(report[key] for key in failures) else 0)
