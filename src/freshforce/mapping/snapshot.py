"""Snapshot a mapping directory into name → text, and write a snapshot back out as a directory.

A snapshot is what a configuration version stores: the flow files, ``values.yaml`` and the hook
modules (``*.py``) at the top of the directory. Written back, it loads exactly as it did.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from freshforce.mapping.loader import FLOWS, VALUES

__all__ = ["read_snapshot", "write_snapshot"]

_KNOWN = frozenset(f"{stem}{suffix}" for stem in (*FLOWS, VALUES) for suffix in (".yaml", ".yml"))


def read_snapshot(directory: Path) -> dict[str, str]:
    """Return the text of each mapping file and hook module at the top of ``directory``.

    Raise OSError (or UnicodeDecodeError) when one cannot be read; an absent directory is empty.
    """
    if not directory.is_dir():
        return {}
    return {
        path.name: path.read_text(encoding="utf-8")
        for path in sorted(directory.iterdir())
        if path.is_file() and (path.name in _KNOWN or path.suffix == ".py")
    }


def write_snapshot(files: Mapping[str, str], directory: Path) -> Path:
    """Write ``files`` into ``directory`` (created; left as is when already complete).

    Each file is written aside and renamed into place, so a reader never sees half a file.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        if Path(name).name != name:
            msg = f"snapshot file name {name!r} is not a plain file name"
            raise ValueError(msg)
        target = directory / name
        if target.exists() and target.read_text(encoding="utf-8") == text:
            continue
        draft = directory / f".{name}.{os.getpid()}"
        draft.write_text(text, encoding="utf-8")
        draft.replace(target)
    return directory
