"""Alert rules: what to watch and when it is a problem, read from a YAML file or the defaults.

A rules file lists rules; every problem in it (unknown kind, bad threshold, duplicate name) is
reported at once with its file, line and key path, as a :class:`ConfigError`::

    rules:
      - {name: dead_letters, kind: dead_letters, above: 0, window_seconds: 3600}
      - {name: lag, kind: oldest_pending, above: 900}
      - {name: connections, kind: connection_unhealthy}
      - {name: conflicts, kind: open_conflicts, above: 20, severity: warning}
      - {name: drift, kind: drift, above: 0, severity: warning}
      - {name: webhooks, kind: webhook_age, above: 21600}
      - {name: volume, kind: volume, above: 3, severity: warning}      # 3x or a third
      - {name: silence, kind: webhook_silence, above: 10, severity: warning}
      - {name: listener_down, kind: stream_unheld, above: 300}
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Literal, NoReturn

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from freshforce.errors import ConfigError
from freshforce.mapping.problems import Problem
from freshforce.mapping.yamlnodes import read_yaml

__all__ = ["DEFAULT_RULES", "AlertRule", "RuleKind", "load_rules"]


class RuleKind(StrEnum):
    """What a rule measures: ``above`` is a count, seconds (the age kinds) or a factor."""

    DEAD_LETTERS = "dead_letters"  # dead letters made in the window
    FAILED_ATTEMPTS = "failed_attempts"  # job attempts that failed (retry or dead) in the window
    OLDEST_PENDING = "oldest_pending"  # age in seconds of the oldest waiting job
    CONNECTION_UNHEALTHY = "connection_unhealthy"  # a connection paused or disabled, one each
    OPEN_CONFLICTS = "open_conflicts"  # conflicts waiting for review
    DRIFT = "drift"  # differences the newest reconcile of each flow and tenant found, summed
    WEBHOOK_AGE = "webhook_age"  # seconds since the newest webhook (never: no alert)
    VOLUME = "volume"  # changes this hour vs the hour of the week; ``above``: the factor (3)
    WEBHOOK_SILENCE = "webhook_silence"  # no webhook for ``above`` (10) x the usual gap, or missed
    STREAM_UNHELD = (
        "stream_unheld"  # seconds a stream (poll, CDC) has had no listener, per connection
    )


@dataclass(frozen=True)
class AlertRule:
    """One rule: it fires while its measure is above ``above``."""

    name: str
    kind: RuleKind
    above: float = 0
    window_seconds: float = 3600
    severity: str = "error"


DEFAULT_RULES = (
    AlertRule("dead_letters", RuleKind.DEAD_LETTERS, above=0, window_seconds=3600),
    AlertRule("job_lag", RuleKind.OLDEST_PENDING, above=900),
    AlertRule("connection_unhealthy", RuleKind.CONNECTION_UNHEALTHY),
    AlertRule("open_conflicts", RuleKind.OPEN_CONFLICTS, above=0, severity="warning"),
    AlertRule("volume", RuleKind.VOLUME, above=3, severity="warning"),
    AlertRule("webhook_silence", RuleKind.WEBHOOK_SILENCE, above=10, severity="warning"),
    AlertRule("listener_down", RuleKind.STREAM_UNHELD, above=300),
)


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")
    kind: RuleKind
    above: float = Field(default=0, ge=0)
    window_seconds: float = Field(default=3600, gt=0)
    severity: Literal["info", "warning", "error"] = "error"


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[_Rule]


def load_rules(path: Path | None) -> tuple[AlertRule, ...]:
    """Return the rules of the YAML file at ``path``, or :data:`DEFAULT_RULES` for ``None``."""
    if path is None:
        return DEFAULT_RULES
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"{path}: cannot read the alert rules file: {exc.strerror}"
        raise ConfigError(msg) from None
    document = read_yaml(str(path), text)
    problems = list(document.problems)
    parsed: _File | None = None
    if not problems:
        try:
            parsed = _File.model_validate(document.data if document.data is not None else {})
        except ValidationError as exc:
            problems += [
                document.problem(e["loc"], e["msg"], key=e["type"] == "extra_forbidden")
                for e in exc.errors()
            ]
    if parsed is not None:
        seen: set[str] = set()
        for index, rule in enumerate(parsed.rules):
            if rule.name in seen:
                problems.append(document.problem(("rules", index, "name"), "name used twice"))
            seen.add(rule.name)
    if problems or parsed is None:
        _raise(problems)
    return tuple(AlertRule(**r.model_dump()) for r in parsed.rules)


def _raise(problems: list[Problem]) -> NoReturn:
    lines = "\n".join(f"  {p}" for p in problems)
    count = len(problems)
    msg = f"invalid alert rules ({count} problem{'s' if count != 1 else ''}):\n{lines}"
    raise ConfigError(msg)
