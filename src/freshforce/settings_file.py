"""Settings file: read a TOML or YAML file into common keys and per-profile sections.

The parsers give no positions, so :meth:`SettingsFile.where` finds a key's line by scanning the
text of the section it lives in; that is cheap and right for the flat files settings are.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from freshforce.errors import ConfigError

__all__ = ["PROFILE_NAME", "SettingsFile", "read_settings_file"]

# A profile (environment) name: its store rows carry it, so it stays short and plain.
PROFILE_NAME = r"^[a-z][a-z0-9_-]{0,15}$"
_BUILT_IN = frozenset({"dev", "qa", "prod"})
_TOML_HEADER = re.compile(r"^\s*\[")


@dataclass(frozen=True)
class SettingsFile:
    """One parsed settings file: its top-level keys and one table per profile (environment)."""

    path: Path
    text: str
    # Any: raw file values, validated by Settings.
    common: dict[str, Any]
    sections: dict[str, dict[str, Any]]

    def section(self, profile: str) -> dict[str, Any]:
        # Any: raw file values, validated by Settings.
        return self.sections.get(profile, {})

    def where(self, key: str, profile: str | None) -> str:
        """Return ``path:line`` for ``key`` in ``profile``'s section (or the top level)."""
        line = _find_line(self.text.splitlines(), key, profile, toml=self.path.suffix == ".toml")
        return f"{self.path}:{line}" if line else str(self.path)


def read_settings_file(path: Path) -> SettingsFile:
    """Parse ``path`` (``.toml``, ``.yaml`` or ``.yml``); raise ConfigError saying what is wrong."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read settings file: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); is the file corrupted?"
        ) from None
    data = _parse(path, text)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a table of settings")
    # Every table is a profile section: no setting takes a table as its value.
    sections = {name: data.pop(name) for name in list(data) if isinstance(data[name], dict)}
    settings_file = SettingsFile(path=path, text=text, common=data, sections=sections)
    for name in _BUILT_IN & set(data):
        where = settings_file.where(name, None)
        raise ConfigError(f"{where} {name}: a profile section must be a table of settings")
    for name in sections:
        if not re.match(PROFILE_NAME, name):
            where = settings_file.where(name, None)
            message = "a profile name is lower-case letters, digits, - and _, up to 16 characters"
            raise ConfigError(f"{where} [{name}]: {message}")
    return settings_file


def _parse(path: Path, text: str) -> object:
    suffix = path.suffix.lower()
    if suffix == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            at = _TOML_LINE.search(str(exc))
            line = at.group(1) if at else text.count("\n") + 1  # "at end of document"
            where = f"{path}:{line}"
            raise ConfigError(f"{where}: invalid TOML: {exc}") from None
    if suffix in {".yaml", ".yml"}:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            if mark is not None:
                line = mark.line + 1
            else:  # a character YAML does not accept: the reader gives its position
                line = text.count("\n", 0, getattr(exc, "position", len(text))) + 1
            where = f"{path}:{line}"
            raise ConfigError(f"{where}: invalid YAML: {_yaml_problem(exc)}") from None
        return {} if data is None else data
    raise ConfigError(f"{path}: unknown settings file type; use .toml, .yaml or .yml")


_TOML_LINE = re.compile(r"\(at line (\d+), column \d+\)")


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is None:
        return str(problem)
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"


def _find_line(lines: list[str], key: str, profile: str | None, *, toml: bool) -> int | None:
    pattern = re.compile(rf"""^\s*["']?{re.escape(key)}["']?\s*[=:]""")
    span = _toml_span(lines, profile) if toml else _yaml_span(lines, profile)
    for number in span:
        if pattern.match(lines[number]):
            return number + 1
    if toml and profile is None:  # a table: its header is the line to show
        header = re.compile(rf"""^\s*\[\s*["']?{re.escape(key)}["']?\s*\]""")
        return next((n + 1 for n, line in enumerate(lines) if header.match(line)), None)
    return None


def _toml_span(lines: list[str], profile: str | None) -> list[int]:
    header = re.compile(rf"^\s*\[\s*{re.escape(profile)}\s*\]") if profile else None
    inside = header is None
    span = []
    for number, line in enumerate(lines):
        if _TOML_HEADER.match(line):
            inside = header is not None and bool(header.match(line))
            continue
        if inside:
            span.append(number)
    return span


def _yaml_span(lines: list[str], profile: str | None) -> list[int]:
    if profile is None:
        return [n for n, line in enumerate(lines) if line[:1] not in {" ", "\t", ""}]
    span: list[int] = []
    inside = False
    for number, line in enumerate(lines):
        top_level = line[:1] not in {" ", "\t", "", "#"}
        if top_level:
            inside = line.startswith(f"{profile}:")
        elif inside:
            span.append(number)
    return span
