"""Configuration problems: where each one is (file:line:column, key path) and what is wrong."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from freshforce.errors import ConfigError, PermanentError

__all__ = ["MappingConfigError", "MappingRecordError", "Problem", "did_you_mean", "format_path"]

PathPart = str | int


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a mapping file; ``line`` and ``column`` count from 1 (0: unknown)."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"

    def as_dict(self) -> dict[str, str | int]:
        """Return the problem as plain values, for ``--json``."""
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
        }


class MappingConfigError(ConfigError):
    """The mapping directory has problems; ``problems`` lists every one of them."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(f"invalid mapping ({count} problem{'s' if count != 1 else ''}):\n{lines}")


class MappingRecordError(PermanentError):
    """One record could not be mapped: the message names file, line, rule and record."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return `` (did you mean 'x'?)`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def format_path(path: Sequence[PathPart]) -> str:
    """Render a key path as ``fields[2].transform[0]``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text
