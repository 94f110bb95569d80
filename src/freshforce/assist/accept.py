"""Settle suggestions: write accepted rules into the flow file (checked) and keep each decision."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from freshforce.assist.scoring import Candidate
from freshforce.assist.yamlapply import insert_rules
from freshforce.errors import ConfigError
from freshforce.mapping import check_maps
from freshforce.store.mapping_decisions import Decision, decide
from freshforce.store.scope import Scope

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["accept", "flow_file", "reject"]


def flow_file(config_dir: Path, flow: str) -> Path:
    """Return the flow's file in ``config_dir``; refuse when only the shipped default exists."""
    path = config_dir / f"{flow}.yaml"
    if not path.is_file():
        msg = (
            f"{path}: not there; `freshforce config init {config_dir}` writes the flow files "
            "to add accepted suggestions to"
        )
        raise ConfigError(msg)
    return path


async def accept(
    engine: AsyncEngine,
    scope: Scope,
    picks: Sequence[Candidate],
    *,
    config_dir: Path,
    profile: str | None = None,
    by: str | None = None,
) -> Path:
    """Add ``picks`` as rules to the flow file, check every map, then store them as accepted.

    A file the new rules would make invalid is put back as it was and nothing is stored.
    """
    path = flow_file(config_dir, scope.flow)
    before = insert_rules(path, picks)
    _, problems = check_maps(config_dir, profile=profile)
    if problems:
        path.write_text(before, encoding="utf-8")
        listed = "; ".join(f"{p.file}:{p.line} {p.message}" for p in problems)
        msg = f"{path}: the suggested rules would not validate, file left as it was: {listed}"
        raise ConfigError(msg)
    async with engine.begin() as db:
        for pick in picks:
            await decide(db, scope, pick.source, pick.target, Decision.ACCEPTED, by=by)
    return path


async def reject(
    engine: AsyncEngine, scope: Scope, source: str, target: str, *, by: str | None = None
) -> None:
    """Store that ``source`` -> ``target`` is wrong: it is never suggested again."""
    async with engine.begin() as db:
        await decide(db, scope, source, target, Decision.REJECTED, by=by)
