"""Per-tenant flow maps: ``<config>/tenants/<tenant>/`` over the shared mapping directory.

A tenant (an integration pair, ``freshforce connect --tenant``) whose name has a directory under
``tenants/`` of the configuration directory runs its flows with the maps found there; a file that
directory lacks is taken from the shared directory, then from the shipped defaults. Tenants without
a directory use the shared maps. ``freshforce config validate`` checks every tenant's directory
(layered the same way), the service loads them when it starts.
"""

from __future__ import annotations

from pathlib import Path

from freshforce.mapping.catalogue import SHIPPED_CATALOGUE, FieldCatalogue
from freshforce.mapping.loader import check_every_profile, check_maps
from freshforce.mapping.model import MapSet
from freshforce.mapping.problems import MappingConfigError, Problem

__all__ = [
    "TENANTS_DIR",
    "check_every_tenant",
    "load_tenant_maps",
    "tenant_dirs",
]

TENANTS_DIR = "tenants"


def tenant_dirs(config_dir: Path | None) -> dict[str, Path]:
    """Return tenant name -> its mapping directory under ``<config_dir>/tenants/``."""
    if config_dir is None:
        return {}
    root = config_dir / TENANTS_DIR
    if not root.is_dir():
        return {}
    return {path.name: path for path in sorted(root.iterdir()) if path.is_dir()}


def check_tenant_maps(
    config_dir: Path | None,
    *,
    profile: str | None = None,
    catalogue: FieldCatalogue = SHIPPED_CATALOGUE,
) -> tuple[dict[str, MapSet], list[Problem]]:
    """Compile every tenant's maps for ``profile``; return them and every problem found."""
    maps: dict[str, MapSet] = {}
    problems: list[Problem] = []
    for tenant, directory in tenant_dirs(config_dir).items():
        found, wrong = check_maps(directory, profile=profile, catalogue=catalogue, base=config_dir)
        problems.extend(wrong)
        if found is not None:
            maps[tenant] = found
    return maps, problems


def load_tenant_maps(
    config_dir: Path | None,
    *,
    profile: str | None = None,
    catalogue: FieldCatalogue = SHIPPED_CATALOGUE,
) -> dict[str, MapSet]:
    """Return every tenant's maps; raise :class:`MappingConfigError` listing every problem."""
    maps, problems = check_tenant_maps(config_dir, profile=profile, catalogue=catalogue)
    if problems:
        raise MappingConfigError(problems)
    return maps


def check_every_tenant(
    config_dir: Path | None, *, catalogue: FieldCatalogue = SHIPPED_CATALOGUE
) -> dict[str, list[Problem]]:
    """Validate each tenant's directory in every profile: tenant -> its problems."""
    return {
        tenant: check_every_profile(directory, catalogue=catalogue, base=config_dir)
        for tenant, directory in tenant_dirs(config_dir).items()
    }
