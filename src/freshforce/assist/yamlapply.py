"""Write accepted suggestions into a flow's YAML file as new field rules, keeping the rest as typed.

The file is edited as text: the new rules, each under a comment giving its reasons, go after the
last item of the top-level ``fields:`` block list, with that list's indentation. Comments, order
and spacing elsewhere stay exactly as they were. A flow-style ``fields: [...]`` is refused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from freshforce.assist.scoring import Candidate
from freshforce.errors import ConfigError

__all__ = ["insert_rules"]

_FIELDS = re.compile(r"^fields:\s*(#.*)?$")
_TOP_LEVEL = re.compile(r"^[A-Za-z_]")
_ITEM = re.compile(r"^(\s*)- ")


def _rule_lines(indent: str, candidate: Candidate) -> list[str]:
    source = candidate.source.split(".", 1)[1]
    why = "; ".join(candidate.reasons[:2])
    return [
        f"{indent}# suggested (score {candidate.score:.2f}): {why}\n",
        f"{indent}- freshbooks: {source}\n",
        f"{indent}  salesforce: {candidate.target}\n",
    ]


def _block(lines: Sequence[str], path: Path) -> tuple[int, str]:
    """Return the index after the fields list's last non-blank line, and the item indent."""
    start = next((i for i, line in enumerate(lines) if _FIELDS.match(line)), None)
    if start is None:
        msg = f"{path}: no block-style `fields:` list at the top level to add rules to"
        raise ConfigError(msg)
    end, indent = start + 1, None
    for i in range(start + 1, len(lines)):
        line = lines[i]
        if _TOP_LEVEL.match(line):
            break
        item = _ITEM.match(line)
        if item and indent is None:
            indent = item.group(1)
        if line.strip() and not line.lstrip().startswith("#"):
            end = i + 1
    return end, indent if indent is not None else "  "


def insert_rules(path: Path, accepted: Sequence[Candidate]) -> str:
    """Add one rule per accepted candidate to ``path``; return the file's previous text."""
    before = path.read_text(encoding="utf-8")
    lines = before.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    end, indent = _block(lines, path)
    new = [line for c in accepted for line in ["\n", *_rule_lines(indent, c)]]
    path.write_text("".join([*lines[:end], *new, *lines[end:]]), encoding="utf-8")
    return before
