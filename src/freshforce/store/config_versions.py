"""The SQL of configuration versions: each applied mapping directory, immutable, one active.

A version holds the files of a mapping directory as they were applied (``content`` is JSON:
``{"files": {name: text}, "message": ...}``), their SHA-256 (``checksum``, over the files only),
who applied it and when. Versions are numbered per profile from 1 and never change; applying
or rolling back adds a version and moves the ``active`` mark to it, in the same transaction as
its ``audit_log`` row. Applying the files already active adds nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from freshforce.store.audit import record_audit
from freshforce.store.schema import config_versions

__all__ = [
    "ConfigVersion",
    "active_checksum",
    "active_version",
    "apply_version",
    "files_checksum",
    "get_version",
    "list_versions",
]


@dataclass(frozen=True)
class ConfigVersion:
    """One stored configuration version of one profile."""

    profile: str
    version: int
    checksum: str
    active: bool
    author: str
    created_at: datetime
    message: str
    files: Mapping[str, str]


def files_checksum(files: Mapping[str, str]) -> str:
    """Return the SHA-256 of ``files`` (name → text), the same whatever their order."""
    canonical = json.dumps(dict(files), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def apply_version(
    conn: AsyncConnection,
    *,
    profile: str,
    files: Mapping[str, str],
    author: str,
    message: str,
    now: datetime,
    action: str = "config.apply",
) -> tuple[ConfigVersion, bool]:
    """Store ``files`` as ``profile``'s new active version in the caller's transaction.

    Return the version and True, or the active version and False when it has the same files.
    """
    checksum = files_checksum(files)
    current = await active_version(conn, profile)
    if current is not None and current.checksum == checksum:
        return current, False
    number = await conn.scalar(
        sa.select(sa.func.coalesce(sa.func.max(config_versions.c.version), 0)).where(
            config_versions.c.profile == profile
        )
    )
    version = ConfigVersion(
        profile=profile,
        version=int(number or 0) + 1,
        checksum=checksum,
        active=True,
        author=author,
        created_at=now,
        message=message,
        files=dict(files),
    )
    await conn.execute(
        sa.update(config_versions)
        .where(config_versions.c.profile == profile, config_versions.c.active)
        .values(active=False)
    )
    content = json.dumps({"files": dict(files), "message": message}, sort_keys=True)
    await conn.execute(
        sa.insert(config_versions).values(
            profile=profile,
            version=version.version,
            content=content,
            checksum=checksum,
            active=True,
            created_by=author,
            created_at=now,
        )
    )
    detail = {"version": version.version, "checksum": checksum, "message": message}
    if current is not None:
        detail["previous"] = current.version
    target = f"config:{profile}:v{version.version}"
    await record_audit(conn, actor=author, action=action, target=target, now=now, detail=detail)
    return version, True


async def active_version(conn: AsyncConnection, profile: str) -> ConfigVersion | None:
    """Return ``profile``'s active version, or None before the first apply."""
    query = sa.select(config_versions).where(
        config_versions.c.profile == profile, config_versions.c.active
    )
    row = (await conn.execute(query)).first()
    return None if row is None else _version(row)


async def active_checksum(conn: AsyncConnection, profile: str) -> tuple[int, str] | None:
    """Return the active version's number and checksum without reading its files."""
    query = sa.select(config_versions.c.version, config_versions.c.checksum).where(
        config_versions.c.profile == profile, config_versions.c.active
    )
    row = (await conn.execute(query)).first()
    return None if row is None else (int(row.version), str(row.checksum))


async def get_version(conn: AsyncConnection, profile: str, version: int) -> ConfigVersion | None:
    """Return version ``version`` of ``profile``, or None when there is none."""
    query = sa.select(config_versions).where(
        config_versions.c.profile == profile, config_versions.c.version == version
    )
    row = (await conn.execute(query)).first()
    return None if row is None else _version(row)


async def list_versions(conn: AsyncConnection, profile: str) -> list[ConfigVersion]:
    """Return every version of ``profile``, newest first."""
    query = (
        sa.select(config_versions)
        .where(config_versions.c.profile == profile)
        .order_by(config_versions.c.version.desc())
    )
    return [_version(row) for row in await conn.execute(query)]


def _version(row: sa.Row[tuple[object, ...]]) -> ConfigVersion:
    content = json.loads(row.content)
    return ConfigVersion(
        profile=row.profile,
        version=row.version,
        checksum=row.checksum,
        active=bool(row.active),
        author=row.created_by or "",
        created_at=row.created_at,
        message=str(content.get("message", "")),
        files=dict(content.get("files", {})),
    )
