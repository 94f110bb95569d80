"""Configuration versions of one environment: apply the directory, roll back, load one to run.

``apply_directory`` checks the mapping directory for the environment's profile and stores it as
a new version (content hash, author, time, message; an ``audit_log`` row in the same
transaction). ``rollback`` stores an earlier version's files again as the newest version, so
history only grows. ``version_maps`` writes a version's files under
``data_dir/versions/<profile>/v<N>`` and loads them: what runs is what was applied, whatever the
directory holds since.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import TYPE_CHECKING

from freshforce.errors import ConfigError
from freshforce.mapping import MappingConfigError, check_maps, load_maps
from freshforce.mapping.snapshot import read_snapshot, write_snapshot
from freshforce.store.config_versions import ConfigVersion, apply_version, get_version

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncEngine

    from freshforce.mapping import MapSet
    from freshforce.settings import Settings

__all__ = ["apply_directory", "current_author", "rollback", "version_maps"]


def current_author() -> str:
    """Return the login name of whoever runs the command, else ``unknown``."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def snapshot(directory: Path) -> dict[str, str]:
    """Return the files of ``directory``; ``ConfigError`` naming the one that cannot be read."""
    try:
        return read_snapshot(directory)
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"{directory}: cannot read the mapping directory: {exc}"
        raise ConfigError(msg) from None


async def apply_directory(
    engine: AsyncEngine,
    settings: Settings,
    *,
    directory: Path,
    author: str,
    message: str,
    now: datetime,
) -> tuple[ConfigVersion, bool]:
    """Validate ``directory`` for the profile and store it as the active version.

    Raise :class:`MappingConfigError` (every problem) and store nothing when it is invalid.
    Return the version and whether it is new (False: these files are active already).
    """
    files = snapshot(directory)
    _, problems = check_maps(directory, profile=settings.profile)
    if problems:
        raise MappingConfigError(problems)
    async with engine.begin() as conn:
        return await apply_version(
            conn, profile=settings.profile, files=files, author=author, message=message, now=now
        )


async def rollback(
    engine: AsyncEngine, settings: Settings, version: int, *, author: str, now: datetime
) -> tuple[ConfigVersion, bool]:
    """Make version ``version``'s files active again, as a new version; ConfigError if unknown."""
    async with engine.begin() as conn:
        old = await get_version(conn, settings.profile, version)
        if old is None:
            msg = f"profile {settings.profile} has no configuration version {version}"
            raise ConfigError(msg)
        return await apply_version(
            conn,
            profile=settings.profile,
            files=old.files,
            author=author,
            message=f"rollback to v{version}",
            now=now,
            action="config.rollback",
        )


def version_dir(settings: Settings, version: ConfigVersion) -> Path:
    """Return where ``version``'s files are written to be loaded."""
    return settings.data_dir / "versions" / version.profile / f"v{version.version}"


def version_maps(settings: Settings, version: ConfigVersion) -> MapSet:
    """Write ``version``'s files out and load them; MappingConfigError if they no longer load."""
    directory = write_snapshot(version.files, version_dir(settings, version))
    return load_maps(directory, profile=version.profile)
