"""Promote the active configuration of one environment to another, checked first, or a dry run.

The source's active version is loaded for the target's profile (its ``values.yaml`` overrides)
and checked against the target's org (``check_org``); any problem refuses the promotion. A dry
run then reads the target's systems and predicts per flow what would change, writing nothing;
a real promotion records the files as the target's new active version (``config.promote`` in
its audit log), which the target's running workers pick up.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from freshforce.environments.dryrun import FlowPrediction, Progress, predict
from freshforce.environments.orgcheck import check_org, environment_pair
from freshforce.errors import ConfigError
from freshforce.mapping import Problem, check_maps
from freshforce.mapping.snapshot import write_snapshot
from freshforce.store.config_versions import ConfigVersion, active_version, apply_version

if TYPE_CHECKING:
    from datetime import datetime

    from freshforce.runtime import Runtime

__all__ = ["Promotion", "promote"]


@dataclass
class Promotion:
    """What a promotion found and did."""

    source: ConfigVersion
    target: str
    problems: list[Problem] = field(default_factory=list)
    version: ConfigVersion | None = None  # recorded in the target (None: refused or dry run)
    created: bool = False
    predictions: list[FlowPrediction] = field(default_factory=list)


async def promote(
    source: Runtime,
    target: Runtime,
    *,
    dry_run: bool,
    author: str,
    now: datetime,
    tenant: str = "default",
    progress: Progress | None = None,
) -> Promotion:
    """Check the source's active version against ``target``; then predict, or record it there."""
    src, dst = source.settings.profile, target.settings.profile
    async with source.engine.connect() as conn:
        version = await active_version(conn, src)
    if version is None:
        msg = f"no configuration version in {src}: run `freshforce --profile {src} config apply`"
        raise ConfigError(msg)
    result = Promotion(version, dst)
    directory = write_snapshot(
        version.files, target.settings.data_dir / "promote" / f"{src}-v{version.version}"
    )
    maps, problems = check_maps(directory, profile=dst)
    if maps is not None:
        pair = await environment_pair(target, tenant)
        problems = await check_org(maps, pair.salesforce, env=dst)
    result.problems = [_named(p, src, version.version) for p in problems]
    if result.problems or maps is None:
        return result
    if dry_run:
        result.predictions = await predict(
            maps, pair, target.engine, tenant=tenant, progress=progress
        )
        return result
    async with target.engine.begin() as conn:
        result.version, result.created = await apply_version(
            conn,
            profile=dst,
            files=version.files,
            author=author,
            message=f"promoted from {src} v{version.version}: {version.message}",
            now=now,
            action="config.promote",
        )
    return result


def _named(problem: Problem, profile: str, version: int) -> Problem:
    # The files were written out to be loaded; name them as the user knows them.
    return dataclasses.replace(problem, file=f"{Path(problem.file).name} ({profile} v{version})")
